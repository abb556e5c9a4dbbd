"""Benchmark of caller-list parsing: linear in the list, and a list over the limit costs nothing.

Times ``caller_numbers_parse`` (the form's parser) against two references measured in the
same run:

- the floor: parsing, validating and formatting each line with phonenumbers and nothing else;
- the parser it replaced, which removed duplicates with a list (``if number not in numbers``)
  and counted the limit after parsing everything: quadratic, 12 s for 40,000 numbers.

    .venv/bin/python bench/caller_list.py
    .venv/bin/python bench/caller_list.py --sizes 500 2000 --old-sizes 10000 40000
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _lines(count: int) -> str:
    # Distinct valid mobile numbers as people type them, one in ten repeated.
    numbers = [f"090-{1000 + index // 10000:04d}-{index % 10000:04d}" for index in range(count)]
    return "\n".join(numbers + numbers[: count // 10])


def _time(function, *args, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(Exception):  # a refusal is what some sizes measure
            function(*args)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def _floor(text: str) -> None:
    import phonenumbers

    for line in text.splitlines():
        parsed = phonenumbers.parse(line.strip(), "JP")
        phonenumbers.is_valid_number(parsed)
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _replaced(text: str) -> list[str]:
    """The parser before: list membership for duplicates, the limit counted at the end."""
    import phonenumbers

    numbers: list[str] = []
    for line in text.splitlines():
        parsed = phonenumbers.parse(line.strip(), "JP")
        if not phonenumbers.is_valid_number(parsed):
            continue
        number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if number not in numbers:
            numbers.append(number)
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[500, 1000, 1800])
    parser.add_argument("--over", nargs="+", type=int, default=[2500, 40_000])
    parser.add_argument("--old-sizes", nargs="+", type=int, default=[10_000, 40_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from config.var import var_prepare

    var_prepare()  # as manage.py does: var/ and its secrets
    import django

    django.setup()
    from django.utils import translation

    from callflows.assets.caller_lists import caller_numbers_parse
    from callflows.assets.library import MAX_CALLER_LIST_NUMBERS

    translation.activate("en")
    print(f"limit: {MAX_CALLER_LIST_NUMBERS} numbers a list")
    print(f"{'lines':>8} {'floor':>10} {'parser':>10} {'x floor':>8} {'per line':>9}")
    for size in args.sizes:
        text = _lines(size)
        lines = len(text.splitlines())
        floor = _time(_floor, text, repeat=args.repeat)
        parsed = _time(caller_numbers_parse, text, repeat=args.repeat)
        print(
            f"{lines:>8} {floor * 1000:>8.1f}ms {parsed * 1000:>8.1f}ms "
            f"{parsed / floor:>8.2f} {parsed / lines * 1e6:>7.1f}µs"
        )
    print("over the limit (refused before any line is parsed):")
    for size in args.over:
        text = _lines(size)
        refused = _time(caller_numbers_parse, text, repeat=args.repeat)
        print(f"{len(text.splitlines()):>8} lines refused in {refused * 1000:.2f} ms")
    print("the parser it replaced (quadratic duplicate check, limit counted after parsing):")
    for size in args.old_sizes:
        text = _lines(size)
        old = _time(_replaced, text, repeat=1)
        floor = _time(_floor, text, repeat=1)
        print(
            f"{len(text.splitlines()):>8} lines {old * 1000:>9.1f} ms "
            f"({old / floor:.1f} x the floor of {floor * 1000:.1f} ms)"
        )


if __name__ == "__main__":
    main()
