#!/usr/bin/env python3
"""Builds seller_labels.jsonl from the hand annotations in annotations.txt.

Usage: merge_labels.py [DIALOGUES] > seller_labels.jsonl

A `# part: NAME` line starts a part (dev, held_out, blind); each record carries its part.
Each annotation line is `DIALOGUE:TURN|OUR_LAST_OFFER|INTENT|PRICE[|REASON]`, with `-` for
none: the annotator's reading of the seller message at that turn (see
extract_candidates.py). This script only joins those readings with the message text,
category and listing price from the corpus; it decides nothing.
"""
import json
import sys

PATH = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/craigslist/dialogues.jsonl"
HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."

dialogues = [json.loads(line) for line in open(PATH)]


def dollars(field):
    if field == "-":
        return None
    value = float(field)
    return int(value) if value.is_integer() else value


part = "dev"
for line in open(f"{HERE}/annotations.txt"):
    line = line.strip()
    if line.startswith("# part:"):
        part = line.split(":", 1)[1].split()[0]
        continue
    if not line or line.startswith("#"):
        continue
    fields = line.split("|")
    where, last, intent, price = fields[:4]
    reason = fields[4] if len(fields) > 4 else None
    index, turn = (int(x) for x in where.split(":"))
    d = dialogues[index]
    t = d["turns"][turn]
    assert t["role"] == "seller" and t["action"] == "message", where
    assert intent in ("accept", "counter", "reject", "question", "other"), where
    record = {
        "id": f"{d['id']}:{turn}",
        "part": part,
        "category": d["category"],
        "text": t["text"],
        "listing_price": d["listing_price"],
        "our_last_offer": dollars(last),
        "intent": intent,
        "price": dollars(price),
    }
    if reason:
        record["reason"] = reason
    print(json.dumps(record))
