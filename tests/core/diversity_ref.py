"""Verbatim copies of four functions of the `diversity` package 0.3.1 (Shaib et al. 2024,
Apache License 2.0, https://pypi.org/project/diversity/), the reference the lexical set
measures of `monoscope.metrics` are tested against.

Why copied: the package cannot be installed with its dependencies beside Monoscope's
(it pins transformers<5 and sentence-transformers<6, and its top-level import loads
`evaluate`, which fetches metrics from a hub at run time). The four functions below need only
the standard library, numpy, nltk, tqdm and rouge-score. `test_metrics_field.py` checks that
these copies are identical to the installed package's source when it is installed
(`pip install --no-deps diversity==0.3.1`). Only the imports were gathered at the top; the
`evaluate.load` used by the BERTScore/BLEU branches of `homogenization_score` is not available.

Copyright the authors of `diversity`; licensed under the Apache License, Version 2.0.
"""
# ruff: noqa
# mypy: ignore-errors
from typing import List, Optional
from pathlib import Path
from collections import Counter

import tempfile
import gzip
import os
import lzma as xz

import numpy as np
import nltk
from nltk.util import ngrams
from tqdm import tqdm
from rouge_score import rouge_scorer

load = None  # evaluate.load: not available offline


def compression_ratio(
        data: List[str],
        algorithm: str = 'gzip',
        verbose: bool = False,
        path: Optional[str] = None
) -> float:
    """ Calculates the compression ratio for a collection of text.
     Args:
         path (str): Path to store temporarily zipped files.
         data (List[str]): Strings to compress.
         algorithm (str, optional): Either 'gzip' or 'xz'. Defaults to 'gzip'.
         verbose (bool, optional): Print out the original and compressed size separately. Defaults to False.
     Returns:
         float: Compression ratio (original size / compressed size)
     """
     
    temp_dir = None
    if not path:
        temp_dir = tempfile.TemporaryDirectory()
        path = Path(temp_dir.name)
    else:
        path = Path(path)

    with (path / 'original.txt').open('w+') as f:
        f.write(' '.join(data))

    original_size = os.path.getsize(os.path.join(path, "original.txt"))

    if algorithm == 'gzip':

        with gzip.GzipFile(str(path / 'compressed.gz'), 'w+') as f:
            f.write(gzip.compress(' '.join(data).encode('utf-8')))

        compressed_size = os.path.getsize(os.path.join(path, "compressed.gz"))

    elif algorithm == 'xz': 

        with xz.open(str(path / 'compressed.gz'), 'wb') as f:
            f.write(' '.join(data).encode('utf-8'))

        compressed_size = (path / "compressed.gz").stat().st_size

    if verbose: 
        print(f"Original Size: {original_size}\nCompressed Size: {compressed_size}")

    if temp_dir:
        temp_dir.cleanup()

    return round(original_size / compressed_size, 3)


def ngram_diversity_score(
        data: List[str],
        num_n: int = 4, 
) -> float:
    """ Calculates corpus-level ngram diversity based on unique ngrams 
       (e.g., https://arxiv.org/pdf/2202.00666.pdf).

    Args:
        data (List[str]): List of documents. 
        num_n (int): Max ngrams to test up to. Defaults to 5. 

    Returns:
        float: ngram diveristy score.
    """
    score = 0 
    data = ' '.join(data).split(' ') # format to list of words

    for i in range(1, num_n + 1): 
        ngrams = list(nltk.ngrams(data, i))
        # num unique ngrams / all ngrams for each size n 
        score += len(set(ngrams)) / len(ngrams) 

    return round(score, 3)


def self_repetition_score(
        dataset: List[str],
        n: int = 4,
        verbose: bool = True
) -> float:
    """
    Calculates a self-repetition score for a dataset based on the 
    repetition of ngrams within the corpus.

    Args:
        dataset (List[str]): A list of documents (strings) to analyze.
        n (int): Size of the ngrams to check for repetition. Defaults to 4.
        verbose (bool): enable/disable show progress bar

    Returns:
        float: The self-repetition score, averaged over the dataset.
    """
    total_sum = 0
    
    # Get all unique ngrams per doc
    ngram_docs = [list(set([' '.join(ngram) for ngram in ngrams(doc.split(), n)])) for doc in dataset]
    
    # Count occurrences of unique ngrams across whole dataset
    all_ngrams = sum(ngram_docs, [])
    ngram_counts = Counter(all_ngrams)

    for ngram_doc in tqdm(ngram_docs, desc="Calculating self-repetition score", disable=(not verbose)):
        # Find the total occurrence of an n-gram and subtract current doc's n-gram count
        # to get the count of occurrences of an n-gram in other docs
        sum_ni = sum([ngram_counts[ngram] for ngram in ngram_doc]) - len(ngram_doc)
        
        # add-one to avoid zero error
        total_sum += np.log(sum_ni + 1)
    return total_sum / len(dataset)


def homogenization_score(
        data: List[str],
        measure: str = 'rougel',
        use_stemmer: Optional[str] = False,
        model: Optional[str] = "microsoft/deberta-base-mnli",
        verbose: Optional[bool] = True,
        batch_size: Optional[int] = 64
) -> float:
    """ 
    Calculates the homogenization score for a set of documents (corpus-level). 
        From https://arxiv.org/pdf/2309.05196.pdf 
     Args:
         data (List[str]): Strings to score.
         measure (str, optional): Either 'rougel', 'bertscore', or 'bleu'. Defaults to 'rougel'.
         use_stemmer(str, optional): Whether to use stemming in the ROUGE-L calculation. Defaults to False.
         model(str, optional): Model to use for BERTScore. Defaults to 'microsoft/deberta-base-mnli'. 
         verbose(bool, optional): Whether to display progress bar. Defaults to True.
     Returns:
         float: Homogenization score.
     """

    if measure == 'rougel':
        scorer = rouge_scorer.RougeScorer(['rougeL'], use_stemmer=use_stemmer)
    elif measure == 'bertscore': 
        scorer = load("bertscore")
    elif measure == 'bleu':
        scorer = load("bleu")
    else: 
        raise ValueError("Scoring measure must be one of `rougel`, `bleu`, or `bertscore`.")

    corpus_score = 0
    
    if verbose:
        print('==> Scoring all pairs')
     
    for i, ref  in tqdm(enumerate(data), total=len(data), disable=(not verbose)):
        # Get all the other utterances to compare against a specific utterance
        preds = [x for j,x in enumerate(data) if j!=i]
        refs = [ref for _ in range(len(preds))]
        
        # Get scores over whole batch and sum it up
        if measure=='rougel':
            doc_score = sum([scorer.score(pred, ref)['rougeL'].fmeasure for pred in preds])
        elif measure=='bertscore':
            doc_score = sum(scorer.compute(predictions=preds, 
                                           references=refs, 
                                           model_type=model, 
                                           batch_size=batch_size)['f1'])
        elif measure=='bleu':
            # Need to double check that this is right
            doc_score = scorer.compute(predictions=preds, 
                                       references=[[r] for r in refs])['bleu']
        # Then average
        corpus_score += doc_score / (len(data) - 1)
    
    # case where all strings are the exact same in the list
    if corpus_score == 0: 
        corpus_score += len(data)
    
    # returns corpus level homogenization score 
    return round(corpus_score/len(data), 3)


