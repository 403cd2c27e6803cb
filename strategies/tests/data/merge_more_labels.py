#!/usr/bin/env python3
"""Builds more_seller_labels.jsonl from the hand labels in annotations_more.jsonl.

Usage: merge_more_labels.py [MESSAGES] > more_seller_labels.jsonl

The messages are ../shared/data/craigslist/more_seller_messages.jsonl (3,117 real seller
messages, each with the listing price and nothing before it). 300 of them were picked with
a fixed seed — 180 at random, 120 among those that look hard (a number in a question,
"middle", "paid", "miles", "k", "firm", "lowest", a bare "ok" or "no problem", a split) —
and labelled by hand in three batches of 100, before the reader ran on any of them. Each
annotation line is {"line", "part", "intent", "price", "note"}: the message's line in the
corpus, its part (`more_dev`: batches 1 and 2, developed against; `more_blind`: batch 3;
a fourth batch of 120, lines not picked before, at random with seed 2612, split 80/40 with
seed 4 into `batch4_dev` and `batch4_blind`; a fifth of 150, lines not picked before,
`random.Random(2712).sample(rest, 150)`, 50 of them `random.Random(5).sample(...)` into
`batch5_blind` and the rest `batch5_dev`, labelled by an annotator who never saw the
reader's code or output; a sixth of 150, lines not picked before among those that look
hard — a number before a question mark, "middle", "paid", "miles", "firm", "lowest", "deal",
"works", "accept", "yours", a bare yes first — `random.Random(2812).sample(rest, 150)`, 50 of
them `random.Random(6).sample(...)` into `batch6_blind`, the rest `batch6_dev`, labelled the
same way; `batch7`, 150 at random among the lines not picked before
(`random.Random(2912).sample(rest, 150)`), and `batch8`, 150 that look hard among the rest
(`random.Random(3012)`), each with 50 into its blind part (`random.Random(7)`,
`random.Random(8)`); `batch9`, 150 at random (`random.Random(3112)`), and `batch10`, 150
that look hard (`random.Random(3212)`), the same way (`random.Random(9)`,
`random.Random(10)`)),
and the annotator's reading. Our last offer is unknown for these messages, so it is null.
This script only joins the readings with the text and listing price; it decides nothing.
"""
import json
import sys

PATH = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/craigslist/more_seller_messages.jsonl"
HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."

messages = [json.loads(line) for line in open(PATH)]


def whole(value):
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


for line in open(f"{HERE}/annotations_more.jsonl"):
    if not line.strip():
        continue
    label = json.loads(line)
    message = messages[label["line"]]
    print(json.dumps({
        "id": f"M_{label['line']}",
        "part": label["part"],
        "text": message["text"],
        "listing_price": whole(message["listing_price"]),
        "our_last_offer": None,
        "intent": label["intent"],
        "price": whole(label["price"]),
    }))
