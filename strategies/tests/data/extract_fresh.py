#!/usr/bin/env python3
"""A second, blind batch: seller messages that name a number (the hard ones), from
dialogues not in extract_candidates.py's sample, printed with the two turns before them.

Usage: extract_fresh.py [DIALOGUES] > fresh.txt
"""
import json
import random
import re
import sys

PATH = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/craigslist/dialogues.jsonl"
dialogues = [json.loads(line) for line in open(PATH)]
used = set(random.Random(20240611).sample(range(len(dialogues)), 110))
NUMBERISH = re.compile(r"\d|hundred|thousand|grand|\bbucks?\b|fifty|twenty|thirty|forty", re.I)

pool = []
for index, d in enumerate(dialogues):
    if index in used:
        continue
    for i, turn in enumerate(d["turns"]):
        if turn["role"] == "seller" and turn["action"] == "message" and NUMBERISH.search(turn["text"] or ""):
            pool.append((index, i))
for index, i in sorted(random.Random(7).sample(pool, 90)):
    d = dialogues[index]
    print(f"=== {index}:{i} {d['category']} listing={d['listing_price']}")
    for turn in d["turns"][max(0, i - 4):i]:
        text = turn["text"] if turn["text"] is not None else f"<{turn['action']} {turn['offer_price']}>"
        print(f"    {turn['role'][0].upper()} {text}")
    print(f"  S {d['turns'][i]['text']}")
