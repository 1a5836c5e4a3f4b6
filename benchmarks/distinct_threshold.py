"""How `metrics.DISTINCT_THRESHOLD` (0.7) was chosen: MiniLM cosines of paraphrases, of
different answers to the same request, and of human critic snippets of the same film.

    python benchmarks/distinct_threshold.py   # needs the bundled MiniLM and demo corpus assets

Printed on 2026-11-29 (all-MiniLM-L6-v2, torch CPU): at 0.7, 12/14 paraphrases, 0/12 different
answers and 0.57 % of 17,850 same-film human pairs are "the same answer".
"""
# ruff: noqa
from pathlib import Path
import bz2
import collections
import csv
import itertools

import numpy as np
from sentence_transformers import SentenceTransformer

ASSETS = Path.home() / ".local/share/monoscope/assets"
model = SentenceTransformer(str(ASSETS / "all-MiniLM-L6-v2"), device="cpu")
para = [
 ("Why did the chicken cross the road? To get to the other side.", "The chicken crossed the road to reach the other side."),
 ("A good name for a cat is Whiskers.", "I'd call the cat Whiskers."),
 ("The capital of France is Paris.", "Paris is France's capital city."),
 ("Start each morning with a short walk to clear your head.", "Begin every day with a brief walk to clear your mind."),
 ("The movie was a delightful surprise with a clever script.", "A pleasantly surprising film with a smart screenplay."),
 ("Sorting the list first makes the search much faster.", "If you sort the list beforehand, searching becomes a lot quicker."),
 ("Once upon a time a dragon guarded a golden egg in the mountains.", "Long ago, in the mountains, a dragon kept watch over an egg made of gold."),
 ("Drink more water and get enough sleep to feel better.", "To feel better, stay hydrated and sleep enough."),
 ("The film drags in the middle but the ending is powerful.", "It sags in its middle act, yet the finale hits hard."),
 ("Use a hash map to count how often each word appears.", "Count word frequencies with a dictionary keyed by word."),
 ("Her performance carries the whole movie.", "She single-handedly carries the film with her acting."),
 ("Try learning a new language for twenty minutes a day.", "Spend twenty minutes daily studying a new language."),
 ("Tell me a joke: I told my wife she should embrace her mistakes. She gave me a hug.", "Here's one: I told my wife to embrace her mistakes, so she hugged me."),
 ("A robot learns to paint and discovers it loves the color blue.", "The story of a robot that takes up painting and falls in love with blue."),
]
diff = [
 ("Why did the chicken cross the road? To get to the other side.", "Why don't scientists trust atoms? Because they make up everything."),
 ("A good name for a cat is Whiskers.", "A good name for a cat is Mochi."),
 ("Start each morning with a short walk to clear your head.", "Keep a journal and write down three things you are grateful for."),
 ("The movie was a delightful surprise with a clever script.", "The movie was a tedious slog with flat characters."),
 ("Once upon a time a dragon guarded a golden egg in the mountains.", "A lighthouse keeper finds a message in a bottle from her future self."),
 ("Sorting the list first makes the search much faster.", "Use recursion to walk the tree and sum the node values."),
 ("Drink more water and get enough sleep to feel better.", "Call an old friend you haven't talked to in years."),
 ("Her performance carries the whole movie.", "The cinematography is the real star here."),
 ("Try learning a new language for twenty minutes a day.", "Take up pottery on weekends."),
 ("A robot learns to paint and discovers it loves the color blue.", "A robot on Mars waits decades for a rescue that never comes."),
 ("Tell me a joke: I told my wife she should embrace her mistakes. She gave me a hug.", "Tell me a joke: parallel lines have so much in common. It's a shame they'll never meet."),
 ("Use a hash map to count how often each word appears.", "Use a heap to keep the k largest values seen so far."),
]
def cos(pairs):
    a = model.encode([p[0] for p in pairs], normalize_embeddings=True)
    b = model.encode([p[1] for p in pairs], normalize_embeddings=True)
    return (a*b).sum(1)
cp, cd = cos(para), cos(diff)
print("paraphrase", np.round(np.sort(cp),3))
print("different ", np.round(np.sort(cd),3))
# human critic snippets: same film
f = bz2.open(ASSETS / "rotten_tomatoes_corpus_full.csv.bz2","rt")
r = csv.reader(f); hdr = next(r); print(hdr)
rows = list(itertools.islice(r, 200000))
by = collections.defaultdict(list)
for row in rows:
    d = dict(zip(hdr,row))
    by[d["movie_name"]].append(d["text"]) if d["category"]!="plot" else None
films = [k for k,v in by.items() if len(v)>=35][:30]
sims=[]
for k in films:
    t=[x for x in by[k] if x][:35]
    e=model.encode(t, normalize_embeddings=True); s=e@e.T
    sims.append(s[np.triu_indices(len(t),1)])
sims=np.concatenate(sims)
print("human same-film pairs", sims.size, "quantiles .5 .9 .99 .999 max", np.round(np.quantile(sims,[.5,.9,.99,.999,1]),3))
for t in (0.6,0.65,0.7,0.75,0.8,0.85):
    print(t, "para>=", (cp>=t).mean().round(3), "diff>=", (cd>=t).mean().round(3), "human pairs>=", (sims>=t).mean().round(5))
