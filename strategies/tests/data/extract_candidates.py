#!/usr/bin/env python3
"""Picks the seller messages to hand-label and prints them with their context.

Usage: extract_candidates.py [DIALOGUES] > candidates.txt

A seeded random sample of whole dialogues (so each message is read with the conversation
before it); every seller `message` turn in them is a candidate. For each one it prints the
listing price, the turns before it, and a *suggested* last buyer offer (the latest buyer
`offer` turn, else the last dollar-looking number in a buyer message). The suggestion is
only a reading aid: the annotator decides `our_last_offer`, `intent` and `price` by reading
the conversation, and writes them into `seller_labels.jsonl` with `merge_labels.py`.
"""
import json
import random
import re
import sys

PATH = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/craigslist/dialogues.jsonl"
SEED = 20240611
DIALOGUES = 110

dialogues = [json.loads(line) for line in open(PATH)]
rng = random.Random(SEED)
picked = rng.sample(range(len(dialogues)), DIALOGUES)

NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?k?")


def buyer_price(turn):
    if turn["action"] == "offer":
        return turn["offer_price"]
    found = NUMBER.findall(turn["text"] or "")
    return found[-1] if found else None


for index in picked:
    d = dialogues[index]
    print(f"=== D{index} {d['category']} listing={d['listing_price']} title={d['title']!r}")
    last = None
    for i, turn in enumerate(d["turns"]):
        text = turn["text"] if turn["text"] is not None else f"<{turn['action']} {turn['offer_price']}>"
        if turn["role"] == "seller" and turn["action"] == "message":
            print(f"  S {index}:{i} [last={last}] {text}")
        else:
            print(f"    {turn['role'][0].upper()} {text}")
        if turn["role"] == "buyer":
            p = buyer_price(turn)
            if p is not None:
                last = p
