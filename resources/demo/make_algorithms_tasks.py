"""Writes algorithms_tasks.json: the algorithms demo's tasks, harnesses, tests and human solutions.

Expected outputs are computed here by plain reference code (Python built-ins), independent of the
library implementations under test. Run: python resources/demo/make_algorithms_tasks.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

OUT = Path(__file__).with_name("algorithms_tasks.json")


def _ints(line: str) -> list[int]:
    return [int(t) for t in line.split()]


def _primes(n: int) -> list[int]:
    return [k for k in range(2, n + 1) if all(k % d for d in range(2, int(k ** 0.5) + 1))]


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def _max_sub(xs: list[int]) -> int:
    return max(sum(xs[i:j]) for i in range(len(xs)) for j in range(i + 1, len(xs) + 1))


def _search(inp: str) -> str:
    arr_line, q = inp.strip().split("\n")
    arr = _ints(arr_line)
    return str(arr.index(int(q)) if int(q) in arr else -1)


MAIN = 'if __name__ == "__main__":\n    main()\n'

TASKS = [
    {
        "key": "sort-integers",
        "title": "Sort a list of integers",
        "statement": (
            "Read a list of integers from standard input (separated by spaces or newlines). "
            "Print them sorted in ascending order on one line, separated by single spaces. "
            "The list has 1 to 30 elements; values are between -1000 and 1000 and may repeat."
        ),
        "harness": (
            "import sys\n\n\ndef main():\n    nums = [int(tok) for tok in sys.stdin.read().split()]\n"
            "    result = solve(nums)\n    if result is None:\n        result = nums\n"
            '    print(" ".join(str(x) for x in result))\n\n\n' + MAIN
        ),
        "inputs": ["5 3 1 4 2\n", "1\n", "2 1\n", "9 -3 0 7 -3 12 5 5 -1000 1000\n",
                   "1 2 3 4 5 6 7 8\n", "8 7 6 5 4 3 2 1\n", "0 0 0 1 0\n",
                   "17 4 29 -8 3 3 11 -250 96 41 0 -1 7 63 12 5 88 -19 2 30\n"],
        "expected": lambda s: " ".join(map(str, sorted(_ints(s)))),
        "solutions": [
            *[("algorithms", f"algorithms/sorting/{m}.py", f) for m, f in [
                ("bubble_sort", "bubble_sort"), ("bucket_sort", "bucket_sort"),
                ("cocktail_shaker_sort", "cocktail_shaker_sort"), ("comb_sort", "comb_sort"),
                ("counting_sort", "counting_sort"), ("cycle_sort", "cycle_sort"),
                ("exchange_sort", "exchange_sort"), ("gnome_sort", "gnome_sort"),
                ("heap_sort", "max_heap_sort"), ("heap_sort", "min_heap_sort"),
                ("insertion_sort", "insertion_sort"), ("merge_sort", "merge_sort"),
                ("pancake_sort", "pancake_sort"), ("pigeonhole_sort", "pigeonhole_sort"),
                ("quick_sort", "quick_sort"), ("radix_sort", "radix_sort"),
                ("selection_sort", "selection_sort"), ("shell_sort", "shell_sort"),
                ("stooge_sort", "stooge_sort"), ("bitonic_sort", "bitonic_sort"),
                ("bead_sort", "bead_sort")]],
            *[("pygorithm", f"pygorithm/sorting/{m}.py", f) for m, f in [
                ("bubble_sort", "sort"), ("bubble_sort", "improved_sort"), ("bucket_sort", "sort"),
                ("counting_sort", "sort"), ("heap_sort", "sort"), ("insertion_sort", "sort"),
                ("merge_sort", "sort"), ("quick_sort", "sort"), ("selection_sort", "sort"),
                ("shell_sort", "sort")]],
        ],
    },
    {
        "key": "search-sorted",
        "title": "Find a value in a sorted list",
        "statement": (
            "Read two lines from standard input: the first holds a sorted list of distinct "
            "integers separated by spaces, the second holds one integer q. Print the 0-based position of q in the list, or -1 "
            "if q is not in the list."
        ),
        "harness": (
            "import sys\n\n\ndef main():\n    lines = sys.stdin.read().split(\"\\n\")\n"
            "    array = [int(tok) for tok in lines[0].split()]\n    query = int(lines[1])\n"
            "    result = solve(array, query)\n"
            "    if result is None or isinstance(result, bool) or result < 0:\n        result = -1\n"
            "    print(result)\n\n\n" + MAIN
        ),
        "inputs": ["1 3 5 7 9\n7\n", "1 3 5 7 9\n1\n", "1 3 5 7 9\n9\n", "1 3 5 7 9\n4\n",
                   "-20 -4 0 8 15 16 23 42 77 100\n42\n", "5\n5\n", "5\n6\n",
                   "2 4 6 8 10 12 14 16 18 20 22 24\n2\n", "2 4 6 8 10 12 14 16 18 20 22 24\n25\n"],
        "expected": _search,
        "solutions": [
            ("algorithms", "algorithms/searching/binary_search.py", "binary_search"),
            ("algorithms", "algorithms/searching/binary_search.py", "binary_search_recur",
             "def solve(array, query):\n    return binary_search_recur(array, 0, len(array) - 1, query)"),
            ("algorithms", "algorithms/searching/exponential_search.py", "exponential_search"),
            ("algorithms", "algorithms/searching/interpolation_search.py", "interpolation_search"),
            ("algorithms", "algorithms/searching/jump_search.py", "jump_search"),
            ("algorithms", "algorithms/searching/linear_search.py", "linear_search"),
            ("algorithms", "algorithms/searching/sentinel_search.py", "sentinel_search"),
            ("algorithms", "algorithms/searching/first_occurrence.py", "first_occurrence"),
            ("algorithms", "algorithms/searching/ternary_search.py", "ternary_search",
             "def solve(array, query):\n    return ternary_search(0, len(array) - 1, query, array)"),
            ("pygorithm", "pygorithm/searching/binary_search.py", "search"),
            ("pygorithm", "pygorithm/searching/exponential_search.py", "search"),
            ("pygorithm", "pygorithm/searching/interpolation_search.py", "search"),
            ("pygorithm", "pygorithm/searching/linear_search.py", "search"),
            ("pygorithm", "pygorithm/searching/ternary_search.py", "search",
             "def solve(array, query):\n    return search(array, 0, len(array) - 1, query)"),
        ],
    },
    {
        "key": "fibonacci",
        "title": "The n-th Fibonacci number",
        "statement": (
            "Read an integer n (0 <= n <= 25) from standard input and print the n-th Fibonacci "
            "number, where F(0) = 0, F(1) = 1 and F(n) = F(n-1) + F(n-2)."
        ),
        "harness": "import sys\n\n\ndef main():\n    n = int(sys.stdin.read())\n    print(solve(n))\n\n\n" + MAIN,
        "inputs": ["0\n", "1\n", "2\n", "5\n", "10\n", "17\n", "25\n"],
        "expected": lambda s: str(_fib(int(s))),
        "solutions": [
            ("algorithms", "algorithms/dynamic_programming/fib.py", "fib_recursive"),
            ("algorithms", "algorithms/dynamic_programming/fib.py", "fib_list"),
            ("algorithms", "algorithms/dynamic_programming/fib.py", "fib_iter"),
            *[("pygorithm", f"pygorithm/fibonacci/{m}.py", "get_sequence",
               "def solve(n):\n    return get_sequence(n)[n]")
              for m in ("generator", "goldenratio", "memoization", "recursion")],
        ],
    },
    {
        "key": "gcd",
        "title": "Greatest common divisor",
        "statement": (
            "Read two positive integers a and b (at most 10^9) from standard input and print "
            "their greatest common divisor."
        ),
        "harness": ("import sys\n\n\ndef main():\n    a, b = (int(tok) for tok in sys.stdin.read().split())\n"
                    "    print(solve(a, b))\n\n\n" + MAIN),
        "inputs": ["12 18\n", "7 13\n", "100 10\n", "1 1\n", "270 192\n", "1000000000 999999999\n",
                   "462 1071\n", "64 48\n"],
        "expected": lambda s: str(math.gcd(*_ints(s))),
        "solutions": [
            ("algorithms", "algorithms/math/gcd.py", "gcd"),
            ("algorithms", "algorithms/math/gcd.py", "gcd_bit"),
            ("algorithms", "algorithms/math/extended_gcd.py", "extended_gcd",
             "def solve(a, b):\n    return extended_gcd(a, b)[2]"),
            ("algorithms", "algorithms/math/modular_inverse.py", "_extended_gcd",
             "def solve(a, b):\n    return _extended_gcd(a, b)[0]"),
            ("pygorithm", "pygorithm/math/lcm_using_gcd.py", "gcd"),
        ],
    },
    {
        "key": "primes-up-to-n",
        "title": "All primes up to n",
        "statement": (
            "Read an integer n (2 <= n <= 2000) from standard input and print every prime number "
            "p with 2 <= p <= n, in increasing order on one line, separated by single spaces."
        ),
        "harness": ('import sys\n\n\ndef main():\n    n = int(sys.stdin.read())\n'
                    '    print(" ".join(str(p) for p in solve(n)))\n\n\n' + MAIN),
        "inputs": ["2\n", "3\n", "10\n", "30\n", "97\n", "100\n", "500\n", "2000\n"],
        "expected": lambda s: " ".join(map(str, _primes(int(s)))),
        "solutions": [
            ("algorithms", "algorithms/math/primes_sieve_of_eratosthenes.py", "get_primes"),
            ("algorithms", "algorithms/math/prime_check.py", "prime_check",
             "def solve(n):\n    return [k for k in range(2, n + 1) if prime_check(k)]"),
            ("algorithms", "algorithms/math/rabin_miller.py", "is_prime",
             "def solve(n):\n    return [k for k in range(2, n + 1) if is_prime(k, 20)]"),
            ("algorithms", "algorithms/math/goldbach.py", "_is_prime",
             "def solve(n):\n    return [k for k in range(2, n + 1) if _is_prime(k)]"),
            ("algorithms", "algorithms/math/diffie_hellman_key_exchange.py", "_prime_check",
             "def solve(n):\n    return [k for k in range(2, n + 1) if _prime_check(k)]"),
            ("pygorithm", "pygorithm/math/sieve_of_eratosthenes.py", "sieve_of_eratosthenes"),
        ],
    },
    {
        "key": "palindrome",
        "title": "Is a word a palindrome?",
        "statement": (
            "Read one word of lowercase letters from standard input. Print True if it reads the "
            "same forwards and backwards, otherwise print False."
        ),
        "harness": ("import sys\n\n\ndef main():\n    word = sys.stdin.read().strip()\n"
                    "    print(bool(solve(word)))\n\n\n" + MAIN),
        "inputs": ["racecar\n", "abba\n", "a\n", "ab\n", "level\n", "python\n", "abcdba\n",
                   "redivider\n"],
        "expected": lambda s: str(s.strip() == s.strip()[::-1]),
        "solutions": [
            *[("algorithms", "algorithms/string/is_palindrome.py", f) for f in (
                "is_palindrome", "is_palindrome_reverse", "is_palindrome_two_pointer",
                "is_palindrome_stack", "is_palindrome_deque")],
            ("pygorithm", "pygorithm/strings/palindrome.py", "is_palindrome"),
        ],
    },
    {
        "key": "reverse-string",
        "title": "Reverse a string",
        "statement": (
            "Read one line of text (letters, digits and spaces, at most 200 characters) from "
            "standard input and print it reversed."
        ),
        "harness": ('import sys\n\n\ndef main():\n    text = sys.stdin.read().rstrip("\\n")\n'
                    "    print(solve(text))\n\n\n" + MAIN),
        "inputs": ["hello\n", "a\n", "ab\n", "hello world\n", "Monoculture 2025\n",
                   "abcdefghijklmnopqrstuvwxyz\n", "racecar\n"],
        "expected": lambda s: s.rstrip("\n")[::-1],
        "solutions": [("algorithms", "algorithms/string/reverse_string.py", f)
                      for f in ("recursive", "iterative", "pythonic", "ultra_pythonic")],
    },
    {
        "key": "anagram",
        "title": "Are two words anagrams?",
        "statement": (
            "Read two different words of lowercase letters from standard input, separated by a "
            "space. Print True if one is a rearrangement of the letters of the other, else False."
        ),
        "harness": ("import sys\n\n\ndef main():\n    first, second = sys.stdin.read().split()\n"
                    "    print(bool(solve(first, second)))\n\n\n" + MAIN),
        "inputs": ["listen silent\n", "apple paple\n", "rat car\n", "night thing\n",
                   "abc abd\n", "aab abb\n", "dusty study\n"],
        "expected": lambda s: str(sorted(s.split()[0]) == sorted(s.split()[1])),
        "solutions": [
            ("algorithms", "algorithms/map/is_anagram.py", "is_anagram"),
            ("algorithms", "algorithms/backtracking/anagram.py", "anagram"),
            ("algorithms", "algorithms/string/group_anagrams.py", "group_anagrams",
             "def solve(first, second):\n    return len(group_anagrams([first, second])) == 1"),
            ("pygorithm", "pygorithm/strings/anagram.py", "is_anagram",
             "def solve(first, second):\n    return second in is_anagram(first, [second])"),
        ],
    },
    {
        "key": "factorial",
        "title": "Factorial",
        "statement": "Read an integer n (0 <= n <= 20) from standard input and print n! (n factorial).",
        "harness": "import sys\n\n\ndef main():\n    n = int(sys.stdin.read())\n    print(solve(n))\n\n\n" + MAIN,
        "inputs": ["0\n", "1\n", "5\n", "10\n", "12\n", "20\n"],
        "expected": lambda s: str(math.factorial(int(s))),
        "solutions": [
            ("algorithms", "algorithms/math/factorial.py", "factorial"),
            ("algorithms", "algorithms/math/factorial.py", "factorial_recur"),
            ("algorithms", "algorithms/math/krishnamurthy_number.py", "_find_factorial"),
            ("pygorithm", "pygorithm/math/factorial.py", "factorial"),
        ],
    },
]


def main() -> None:
    tasks = []
    for t in TASKS:
        expected = t["expected"]
        tests = [{"input": i, "output": expected(i) + "\n"} for i in t["inputs"]]
        sols = []
        for s in t["solutions"]:
            entry = {"asset": f"{s[0]}-src", "module": s[1], "function": s[2]}
            if len(s) > 3:
                entry["adapter"] = s[3]
            sols.append(entry)
        tasks.append({"key": t["key"], "title": t["title"], "statement": t["statement"],
                      "harness": t["harness"], "tests": tests, "solutions": sols})
    doc = {
        "about": ("Tasks of Monoscope's `algorithms` demo. Each solution is a function from a "
                  "human-written library (keon/algorithms, pygorithm; both MIT) turned into a "
                  "stdin/stdout program: the function's source with the helpers it uses, plus "
                  "the task's harness. `adapter` (optional) defines solve() when the function "
                  "needs other arguments; otherwise solve = the function."),
        "tasks": tasks,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
