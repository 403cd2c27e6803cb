#!/usr/bin/env python3
"""Extracts the seller's free-text messages from the CraigslistBargain dialogues into
sim/data/seller_messages.jsonl, the phrasebook the simulated sellers write from.

    python3 sim/scripts/extract-seller-messages.py ../shared/data/craigslist/dialogues.jsonl \
        > sim/data/seller_messages.jsonl

Each line: {"category", "listing_price", "text"}. Order is the corpus order, so the output is
reproducible byte for byte.
"""
import json
import sys

with open(sys.argv[1], encoding="utf-8") as dialogues:
    for line in dialogues:
        dialogue = json.loads(line)
        for turn in dialogue["turns"]:
            if turn["role"] == "seller" and turn["action"] == "message" and turn["text"]:
                print(json.dumps({
                    "category": dialogue["category"],
                    "listing_price": dialogue["listing_price"],
                    "text": turn["text"].strip(),
                }, ensure_ascii=False))
