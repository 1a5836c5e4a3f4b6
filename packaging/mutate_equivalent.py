"""Mutants written down as equivalent (no test can tell them from the original), with the reason.

``EQUIVALENT[module][mutant name] = reason``; `packaging/mutate.py` counts a surviving mutant
listed here as equivalent, not as survived. Names are mutmut's (``mutmut show NAME`` in the work
folder prints the change) or, for the sandbox bootstrap, ``BOOTSTRAP__mutant_N`` of
`packaging/mutate_bootstrap.py` (``<work>/mutants.json`` lists each one's change). Numbers
shift when the module changes: re-check after edits.
"""

from __future__ import annotations

_B = "BOOTSTRAP__mutant_"

BOOTSTRAP = {
    **dict.fromkeys([f"{_B}18", f"{_B}19"], "the source is read in chunks of 1 << 16 bytes; "
                    "2 << 16 or 1 << 17 only changes the chunk size"),
    **dict.fromkeys([f"{_B}28", f"{_B}33", f"{_B}34"], "the error handler of decoding the "
                    "source: run_program writes the source as strict UTF-8, so decoding never "
                    "meets an error (and a lone surrogate cannot be written at all)"),
    f"{_B}32": "codec names are case-insensitive ('UTF-8' is 'utf-8')",
    f"{_B}47": "peak(): `return` instead of `break` after writing VmHWM skips only closing the "
               "fd, which the exit closes",
    f"{_B}48": "peak(): os.close(None) raises inside its own `except Exception: pass` after the "
               "write; the exit closes the fd",
    **dict.fromkeys([f"{_B}114", f"{_B}115"], "the audit event 'os.spawn' exists only where C "
                    "spawnv does (Windows); on Linux os.spawn* fork and exec (refused as "
                    "'os.fork')"),
    f"{_B}189": "the guard reads `mode` from args[2] (the flags): every 'open' event of CPython "
                "3.11 that writes carries the O_* flags, which the flag check refuses",
    **dict.fromkeys([f"{_B}196", f"{_B}197"], "the mode-string check is a second look at what "
                    "the O_* flags already say for every writing 'open' event of CPython 3.11 "
                    "(io.open and os.open pass the flags); 'XXwax+XX' is a superset anyway"),
    f"{_B}230": "the program's globals without a '__builtins__' key: exec() puts the builtins "
                "in itself",
    f"{_B}207": "args[:3] instead of args[:2]: the third argument of every path event in the "
                "list is an int, a tuple or None (dir_fd, times, gid), never a path",
}

_S = "monoscope.core.sandbox."
SANDBOX = {
    f"{_S}x_run_tests__mutmut_1": "default parallelism 3 instead of 2: run_tests caps the "
                                  "workers at 2 either way",
    f"{_S}x_run_tests__mutmut_17": "`len(tests) or 2` instead of `or 1`: only differs for no "
                                   "test cases, where the pool maps over nothing",
}

_W = "monoscope.core.sandbox.bwrap."
BWRAP = {
    **dict.fromkeys([f"{_W}xǁWallǁprefix__mutmut_{i}" for i in (23, 27, 29, 31)],
                    "a capability name in lower case: bwrap reads them case-insensitively "
                    "(libcap's cap_from_name; strcasecmp for ALL)"),
}

_M = "monoscope.core.analysis.measure."
MEASURE = {
    f"{_M}x__boot__mutmut_29": "the se-perturbed replicates when every se is 0: v + 0 * noise "
                               "equals v",
    f"{_M}x__comparable__mutmut_8": "astype(None) is astype(float64)",
    f"{_M}x_attribute_kind__mutmut_13": "how many labels are looked at to tell a categorical "
                                        "attribute (1000 or 1001): a sampling bound",
    f"{_M}x_subsets__mutmut_3": "np.arange's default dtype is int64 here",
    f"{_M}x_subsets__mutmut_5": "np.arange's default dtype is int64 here",
    f"{_M}x_subsets__mutmut_12": "np.argsort's default axis is the last (-1 = 1)",
    f"{_M}x_ustat_se__mutmut_4": "b >= 2, m < n and fewer than 2 finite values: every seen "
                                 "text has the same h, so the variance and the se are 0 anyway",
    f"{_M}x_ustat_se__mutmut_5": "one draw never has 2 finite values: `ok.sum() < 2` returns 0 "
                                 "whether or not `b < 2 and m >= n` holds",
    f"{_M}x_ustat_se__mutmut_8": "m = n: every draw holds every text, all h are equal, se 0",
    f"{_M}x__lexical__mutmut_28": "the lexical pool's kind label is never read: Pool.stats "
                                  "hands a lexical pool to its LexicalSet before any kind check",
    **dict.fromkeys([f"{_M}x__pooled_distinct__mutmut_51", f"{_M}x__pooled_distinct__mutmut_56"],
                    "a part of the draws' seed changed (a label, the attribute's name): "
                    "another, equally uniform stream of subsamples; no value is specified per "
                    "seed, only that the same seed gives the same numbers"),
    f"{_M}x__aggregate_sides__mutmut_60": "sd None instead of nan: _Rows.add stores both as "
                                          "NULL",
    f"{_M}x__likelihood__mutmut_38": "to_numpy(zero_copy_only=None): None is falsy like False",
    f"{_M}x__match__mutmut_78": "the whole-set cache key only when m > n: with m = n the "
                                "subsample is the whole set either way; only which cache entry "
                                "holds the same values",
    f"{_M}x__wording__mutmut_77": "the cosine also when a count vector is all zero: 0 / 0 is "
                                  "nan, as the else branch gives (warnings are silenced)",
    f"{_M}x__wording__mutmut_178": "the run's key left out of the corpus draws' seed: another, "
                                   "equally uniform stream of subsamples (as above)",
    f"{_M}x__compute__mutmut_309": "`compare` for the embedding pools: _measure_pools reads it "
                                   "only for categorical and tag attributes",
    f"{_M}x__compute__mutmut_184": "the empty embedding matrix (no embedding measured) as "
                                   "float64: it is never read",
    f"{_M}x_load_result__mutmut_95": "meta.get('gated') without a default: every stored set of "
                                     "this VERSION has the key (older sets are redone)",
    f"{_M}x__compute__mutmut_359": "the no-bodies mask as float zeros: `if h` reads 0.0 as "
                                   "False",
    f"{_M}x__distributions__mutmut_103": "the run's key left out of the draws' seed: another, "
                                         "equally uniform stream of subsamples (as above)",
}

_R = {
    'dtype': ('the dtype asked for is the one numpy gives these values anyway (floats, ints, bools), or ints later divided into floats; astype(None) is astype(float64) on values that are unchanged by it'),
    'route': ('only chooses between two exact routes (packed int64 keys or tuples, one sort or a lexsort, dense or sorted Self-BLEU counts, matrix squaring or sparse components); both give the same numbers'),
    'wrap': ("packs n-gram keys past 2**63: int64 wraps modulo 2**64, which changes a count only if two distinct n-grams' keys collide modulo 2**64 (odds ~ k**2 / 2**64); not equivalent in principle, not observable in practice"),
    'order': ('changes an order, an offset or a base that the grouping does not depend on (groups are runs of equal keys; any base above the largest id packs keys uniquely; no key equals a threshold base**n)'),
    'default': ("the argument left out or changed has that value by default (numpy's axis=-1, argsort/take_along_axis on the last axis, scipy's alternative='two-sided', connected_components' weak components, q=1.0, zip's lengths already equal)"),
    'masked': ('only changes entries that a later np.where replaces or that end as nan anyway (empty rows, p = 0 terms, an empty mean), at most adding a RuntimeWarning'),
    'cap': ('repeats work (a loop step of 1, a wider chunk, an extra threshold never reached) with the same result'),
    'cache': ("only LexicalSet's cache of its flat arrays: recomputed, same values"),
    'gzip': ("the gzip header's mtime and the default level (9) do not change the compressed length, which is all the ratio uses"),
    'same': ('the mutated branch gives the same values (c == second, equal lengths, a renormalised spectrum, q = 0 through the general Rényi formula, a bincount already as long as its largest key)'),
    'empty': ('only for a set without texts, where every gathered position list is empty, so the value is never read'),
}
_X = "monoscope.core.analysis.metrics."
METRICS = {
    _X + 'x__as_matrix__mutmut_3': _R['dtype'],
    _X + 'x__as_matrix__mutmut_5': _R['dtype'],
    _X + 'x__gzip__mutmut_4': _R['gzip'],
    _X + 'x__gzip__mutmut_6': _R['gzip'],
    _X + 'x__gzip__mutmut_7': _R['gzip'],
    _X + 'x__gzip__mutmut_8': _R['gzip'],
    _X + 'x__has_other_in_knn__mutmut_1': _R['cap'],
    _X + 'x__has_other_in_knn__mutmut_19': _R['same'],
    _X + 'x__has_other_in_knn__mutmut_22': _R['same'],
    _X + 'x__has_other_in_knn__mutmut_30': _R['cap'],
    _X + 'x__has_other_in_knn__mutmut_53': _R['default'],
    _X + 'x__text_ngrams__mutmut_102': _R['order'],
    _X + 'x__text_ngrams__mutmut_112': _R['cap'],
    _X + 'x__text_ngrams__mutmut_125': _R['order'],
    _X + 'x__text_ngrams__mutmut_135': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_15': _R['order'],
    _X + 'x__text_ngrams__mutmut_18': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_20': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_22': _R['wrap'],
    _X + 'x__text_ngrams__mutmut_24': _R['route'],
    _X + 'x__text_ngrams__mutmut_25': _R['route'],
    _X + 'x__text_ngrams__mutmut_26': _R['wrap'],
    _X + 'x__text_ngrams__mutmut_27': _R['route'],
    _X + 'x__text_ngrams__mutmut_4': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_40': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_42': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_48': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_50': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_53': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_55': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_6': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_61': _R['order'],
    _X + 'x__text_ngrams__mutmut_83': _R['dtype'],
    _X + 'x__text_ngrams__mutmut_86': _R['dtype'],
    _X + 'x_aggregate__mutmut_47': _R['default'],
    _X + 'x_compression_ratio__mutmut_32': _R['gzip'],
    _X + 'x_compression_ratio__mutmut_37': _R['gzip'],
    _X + 'x_compression_ratio__mutmut_43': _R['gzip'],
    _X + 'x_coverage__mutmut_5': _R['masked'],
    _X + 'x_dispersion_ratio__mutmut_7': _R['masked'],
    _X + 'x_distinct_k_from_similarity__mutmut_112': _R['order'],
    _X + 'x_distinct_k_from_similarity__mutmut_124': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_126': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_13': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_131': _R['default'],
    _X + 'x_distinct_k_from_similarity__mutmut_133': _R['default'],
    _X + 'x_distinct_k_from_similarity__mutmut_134': _R['default'],
    _X + 'x_distinct_k_from_similarity__mutmut_139': _R['default'],
    _X + 'x_distinct_k_from_similarity__mutmut_15': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_153': _R['default'],
    _X + 'x_distinct_k_from_similarity__mutmut_18': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_20': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_44': _R['cap'],
    _X + 'x_distinct_k_from_similarity__mutmut_60': _R['route'],
    _X + 'x_distinct_k_from_similarity__mutmut_61': _R['route'],
    _X + 'x_distinct_k_from_similarity__mutmut_63': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_68': _R['cap'],
    _X + 'x_distinct_k_from_similarity__mutmut_74': _R['cap'],
    _X + 'x_distinct_k_from_similarity__mutmut_78': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_87': _R['dtype'],
    _X + 'x_distinct_k_from_similarity__mutmut_90': _R['route'],
    _X + 'x_distinct_k_from_similarity__mutmut_91': _R['route'],
    _X + 'x_distinct_k_from_similarity__mutmut_92': _R['route'],
    _X + 'x_distinct_k_from_similarity__mutmut_93': _R['route'],
    _X + 'x_distinct_k_from_similarity__mutmut_94': _R['route'],
    _X + 'x_entropy__mutmut_4': _R['dtype'],
    _X + 'x_entropy__mutmut_6': _R['dtype'],
    _X + 'x_jensen_shannon__mutmut_13': _R['dtype'],
    _X + 'x_jensen_shannon__mutmut_15': _R['dtype'],
    _X + 'x_jensen_shannon__mutmut_23': _R['dtype'],
    _X + 'x_jensen_shannon__mutmut_25': _R['dtype'],
    _X + 'x_jensen_shannon_counts__mutmut_30': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_34': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_35': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_37': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_42': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_46': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_47': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_49': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_60': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_70': _R['masked'],
    _X + 'x_jensen_shannon_counts__mutmut_72': _R['masked'],
    _X + 'x_mann_whitney__mutmut_19': _R['default'],
    _X + 'x_mann_whitney__mutmut_21': _R['default'],
    _X + 'x_ngram_diversity__mutmut_24': _R['default'],
    _X + 'x_pairwise_rouge_l__mutmut_28': _R['cap'],
    _X + 'x_pairwise_rouge_l__mutmut_29': _R['cap'],
    _X + 'x_pairwise_rouge_l__mutmut_30': _R['cap'],
    _X + 'x_perplexity_mask__mutmut_11': _R['dtype'],
    _X + 'x_perplexity_mask__mutmut_13': _R['dtype'],
    _X + 'x_perplexity_mask__mutmut_7': _R['masked'],
    _X + 'x_precision__mutmut_5': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_101': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_11': _R['dtype'],
    _X + 'x_renyi_vendi__mutmut_114': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_33': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_37': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_38': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_52': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_80': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_85': _R['masked'],
    _X + 'x_renyi_vendi__mutmut_87': _R['same'],
    _X + 'x_renyi_vendi__mutmut_9': _R['dtype'],
    _X + 'x_self_bleu__mutmut_19': _R['same'],
    _X + 'x_std__mutmut_4': _R['masked'],
    _X + 'x_unigram_entropy__mutmut_4': _R['dtype'],
    _X + 'x_unigram_entropy__mutmut_6': _R['dtype'],
    _X + 'x_vendi_score__mutmut_4': _R['default'],
    _X + 'x_vendi_score_q__mutmut_12': _R['same'],
    _X + 'x_vendi_score_q__mutmut_21': _R['same'],
    _X + 'xǁLexicalSetǁ__init____mutmut_13': _R['dtype'],
    _X + 'xǁLexicalSetǁ__init____mutmut_15': _R['dtype'],
    _X + 'xǁLexicalSetǁ__init____mutmut_36': _R['default'],
    _X + 'xǁLexicalSetǁ__init____mutmut_40': _R['default'],
    _X + 'xǁLexicalSetǁ__init____mutmut_7': _R['default'],
    _X + 'xǁLexicalSetǁ_flat__mutmut_17': _R['dtype'],
    _X + 'xǁLexicalSetǁ_flat__mutmut_3': _R['dtype'],
    _X + 'xǁLexicalSetǁ_flat__mutmut_5': _R['dtype'],
    _X + 'xǁLexicalSetǁ_gather__mutmut_11': _R['dtype'],
    _X + 'xǁLexicalSetǁ_gather__mutmut_13': _R['dtype'],
    _X + 'xǁLexicalSetǁ_gather__mutmut_24': _R['dtype'],
    _X + 'xǁLexicalSetǁ_gather__mutmut_26': _R['dtype'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_140': _R['masked'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_144': _R['masked'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_145': _R['masked'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_147': _R['masked'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_24': _R['masked'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_27': _R['dtype'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_29': _R['dtype'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_32': _R['dtype'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_34': _R['dtype'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_39': _R['order'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_46': _R['wrap'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_47': _R['route'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_48': _R['route'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_49': _R['wrap'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_50': _R['route'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_54': _R['order'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_71': _R['dtype'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_73': _R['dtype'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_76': _R['wrap'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_77': _R['wrap'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_78': _R['route'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_79': _R['route'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_80': _R['wrap'],
    _X + 'xǁLexicalSetǁ_ngram_diversity__mutmut_81': _R['route'],
    _X + 'xǁLexicalSetǁ_prepare_flat__mutmut_1': _R['cache'],
    _X + 'xǁLexicalSetǁ_prepare_flat__mutmut_20': _R['empty'],
    _X + 'xǁLexicalSetǁ_prepare_flat__mutmut_30': _R['empty'],
    _X + 'xǁLexicalSetǁ_prepare_flat__mutmut_33': _R['empty'],
    _X + 'xǁLexicalSetǁ_prepare_flat__mutmut_5': _R['cache'],
    _X + 'xǁLexicalSetǁ_prepare_flat__mutmut_6': _R['cache'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_120': _R['order'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_122': _R['order'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_123': _R['order'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_230': _R['default'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_24': _R['route'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_25': _R['route'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_27': _R['route'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_40': _R['dtype'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_54': _R['same'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_60': _R['dtype'],
    _X + 'xǁLexicalSetǁ_self_repetition__mutmut_13': _R['dtype'],
    _X + 'xǁLexicalSetǁ_self_repetition__mutmut_15': _R['order'],
    _X + 'xǁLexicalSetǁ_self_repetition__mutmut_19': _R['order'],
    _X + 'xǁLexicalSetǁ_self_repetition__mutmut_23': _R['order'],
    _X + 'xǁLexicalSetǁ_self_repetition__mutmut_37': _R['order'],
    _X + 'xǁLexicalSetǁstats__mutmut_3': _R['dtype'],
    _X + 'xǁLexicalSetǁstats__mutmut_5': _R['dtype'],
    # found when the re-test was finished (this session's survivors), each with its own reason
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_32': _R['order'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_116': _R['order'],
    _X + 'xǁLexicalSetǁ__init____mutmut_43': _R['default'],
    _X + 'xǁLexicalSetǁ__init____mutmut_52': _R['default'],
    _X + 'x_compression_ratio__mutmut_35': _R['gzip'],
    _X + 'x_diff_of_means__mutmut_4': _R['masked'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_302': (
        "precision with `correct > 1` instead of `> 0`: with exactly 1 match of order n every "
        "lower order matches too (a matched n-gram's sub-n-grams are in the reference), so the "
        "smoothing factor is 1 and 100 / (1 * total) = 100 * 1 / total"),
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_262': (
        "the brevity penalty of an empty text: it has no n-gram, so correct.sum() = 0 and its "
        "score is 0 whatever the penalty"),
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_239': (
        "`short` also for equal lengths: exp(1 - r / r) = exp(0) = 1.0 exactly; two empty "
        "lengths score 0 (no n-gram) whatever the penalty"),
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_258': (
        "the divisor guard `sys_len > 1` instead of `> 0`: for sys_len = 1 both divide by 1"),
    _X + 'x_mann_whitney__mutmut_4': (
        "one empty side goes on to scipy, whose mannwhitneyu returns (nan, nan) for an empty "
        "sample, as the early return does"),
    _X + 'x_self_bleu__mutmut_56': (
        "always `second`: a text not holding the top count has a count <= second (the largest "
        "among the texts but the top holder), so min(c, second) = c = min(c, top)"),
    _X + 'x_compression_ratio__mutmut_10': "codec names are case-insensitive ('UTF-8' is 'utf-8')",
    _X + 'x_ngram_diversity__mutmut_22': "zip(strict=None): None is falsy like False",
    **dict.fromkeys([_X + 'x_self_bleu__mutmut_15', _X + 'x_self_bleu__mutmut_16'], (
        "the default of best.get(g, ...) is replaced at an n-gram's first occurrence (any count "
        ">= 1 beats top 0): its `who` and `second` are never read")),
    **dict.fromkeys([_X + 'x_self_bleu__mutmut_38', _X + 'x_self_bleu__mutmut_41'], (
        "a fifth, always-0 slot of the counts: BLEU.compute_bleu reads max_ngram_order = 4 of "
        "them")),
    **{_X + f'xǁLexicalSetǁ_self_bleu__mutmut_{i}': _R['order'] for i in (111, 220)},
    **{_X + f'xǁLexicalSetǁ_self_bleu__mutmut_{i}': _R['masked'] for i in (257, 259, 293)},
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_28': _R['route'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_38': _R['dtype'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_58': _R['dtype'],
    _X + 'xǁLexicalSetǁ_self_bleu__mutmut_271': (
        "the brevity penalty of an empty text (1 instead of 0): it has no n-gram, so "
        "correct.sum() = 0 and its score is 0 whatever the penalty"),
    **{_X + n: _R['empty'] for n in ('xǁLexicalSetǁ_flat__mutmut_19', 'xǁLexicalSetǁ_flat__mutmut_20',
       'xǁLexicalSetǁ_prepare_flat__mutmut_22', 'xǁLexicalSetǁ_prepare_flat__mutmut_23',
       'xǁLexicalSetǁ_prepare_flat__mutmut_32')},
    _X + 'x_ks__mutmut_4': (
        "one empty side goes on to scipy, whose ks_2samp returns nan for an empty sample, as the "
        "early return does"),
    _X + 'x_self_bleu__mutmut_14': (
        "the default of best.get(g, ...) is replaced at an n-gram's first occurrence (any count "
        ">= 1 beats top 0): its `who` and `second` are never read"),
    _X + 'x_self_bleu__mutmut_17': (
        "`c >= top`: on a tie the later text becomes the holder and the old top the second, so "
        "top = second = c and every text's reference count is that value either way"),
    _X + 'x__has_other_in_knn__mutmut_39': (
        "self set to nan instead of -inf: -nan is nan, which numpy's partition puts last, as "
        "it does +inf"),
    _X + 'x_self_repetition__mutmut_7': (
        "another separator in the n-gram strings: tokens hold no space, so 'XX XX' still joins "
        "distinct n-grams into distinct strings"),
}

# -- the importers' skip rules (staging counts, kept rows, the load step) ----------------------
_SQL_CASE = ("only the letter case of SQL changes: DuckDB's keywords, functions and "
             "identifiers (tables, columns) are case-insensitive")
_ST = "monoscope.core.store.staging."
STAGING = {
    **{_ST + n: _SQL_CASE for n in (
        "x_first_keyless_row__mutmut_4", "x_first_keyless_row__mutmut_5",
        "x_staged_row_count__mutmut_3", "x_staged_row_count__mutmut_4")},
    **{_ST + n: ("the `else (0, 0)` branch: an aggregate query without GROUP BY always "
                 "returns one row, so `row` is never None") for n in (
        "x_count_unusable__mutmut_5", "x_count_unusable__mutmut_10",
        "x_count_unusable__mutmut_11")},
}
_IM = "monoscope.core.store.imports."
IMPORTS = {
    _IM + n: _SQL_CASE for n in (
        "x__insert_tests__mutmut_4", "x__insert_tests__mutmut_5",
        "x__insert_tests__mutmut_10", "x__insert_tests__mutmut_11",
        "x__stage_in_row_order__mutmut_3", "x__stage_in_row_order__mutmut_4",
        "x__stage_in_row_order__mutmut_6", "x__stage_in_row_order__mutmut_7",
        "x__stage_in_row_order__mutmut_10", "x__stage_in_row_order__mutmut_11",
        "x_keep_new_texts__mutmut_5", "x_keep_new_texts__mutmut_6",
        "x_keep_new_texts__mutmut_10", "x_keep_new_texts__mutmut_11",
        "x_keep_new_texts__mutmut_16", "x_keep_new_texts__mutmut_17",
        "x_write_staged__mutmut_9", "x_write_staged__mutmut_10",
        "x_write_staged__mutmut_36", "x_write_staged__mutmut_37",
        "x_write_staged__mutmut_40", "x_write_staged__mutmut_41")
}
_CO = "monoscope.core.importers.common."
COMMON = {
    **{_CO + n: ("`notes` is the dataclass's last field: as_dict drops it and adds it back at "
                 "the end, so a filter that keeps it in place gives the same dict") for n in (
        "xǁImportReportǁas_dict__mutmut_3", "xǁImportReportǁas_dict__mutmut_4")},
    **{_CO + n: ("the last progress step has done == total, which TaskState reports whether "
                 "forced or not") for n in (
        "x_load_staged__mutmut_102", "x_load_staged__mutmut_106",
        "x_load_staged__mutmut_111")},
}

_SD = "monoscope.core.store.study."
STUDY = {
    **{_SD + n: _SQL_CASE for n in (
        "xǁStudyǁ_has_foreign_tables__mutmut_4", "xǁStudyǁ_memory_budget__mutmut_30",
        "xǁStudyǁ_memory_budget__mutmut_31", "xǁStudyǁ_transaction__mutmut_4",
        "xǁStudyǁ_transaction__mutmut_5", "xǁStudyǁ_transaction__mutmut_8",
        "xǁStudyǁ_transaction__mutmut_11", "xǁStudyǁ_transaction__mutmut_15",
        "xǁStudyǁ_transaction__mutmut_24", "xǁStudyǁ_transaction__mutmut_25",
        "xǁStudyǁcheckpoint__mutmut_8", "xǁStudyǁmigrate__mutmut_12",
        "xǁStudyǁmigrate__mutmut_15", "xǁStudyǁmigrate__mutmut_18",
        "xǁStudyǁmigrate__mutmut_28", "xǁStudyǁmigrate__mutmut_29",
        "xǁStudyǁschema_version__mutmut_4", "xǁStudyǁschema_version__mutmut_11",
        "xǁStudyǁschema_version__mutmut_12")},
    _SD + "xǁStudyǁ_memory_budget__mutmut_8": (
        "DuckDB reads size units in any letter case: '1gb' is '1GB'"),
    **{_SD + n: ("the pattern is matched with re.IGNORECASE, so the letter case of its unit "
                 "letters changes nothing") for n in (
        "xǁStudyǁ_memory_budget__mutmut_17", "xǁStudyǁ_memory_budget__mutmut_18")},
}

EQUIVALENT: dict[str, dict[str, str]] = {
    "core/analysis/metrics.py": METRICS,
    "core/analysis/measure.py": MEASURE,
    "core/sandbox/boot.py:BOOTSTRAP": BOOTSTRAP,
    "core/sandbox/__init__.py": SANDBOX,
    "core/sandbox/bwrap.py": BWRAP,
    "core/store/staging.py": STAGING,
    "core/store/imports.py": IMPORTS,
    "core/importers/common.py": COMMON,
    "core/store/study.py": STUDY,
}
