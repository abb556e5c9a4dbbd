"""Ring a sandbox number the way Xoxzo would, once (with a transcript) or as a load test."""

import sys
from argparse import RawDescriptionHelpFormatter

from django.core.management.base import BaseCommand, CommandError

from sandbox import errors, incoming_calls

HELP = """\
Simulate incoming calls to sandbox numbers: Xoxzo's GET <action URL>?caller=…&recipient=…, the
answer parsed strictly and carried out (MP3s fetched, speech timed, transfers to other sandbox
numbers followed, voicemail recorded).

One call (--to once, no --calls): prints the transcript; the call, any voicemail and its charge
are kept and appear on the operators' page. Exit status 0 for a completed, transferred or
voicemail call, 1 for a failed one.

Load mode (--calls N): N calls, --concurrency at a time, round-robin over the --to numbers or,
without --to, over every active sandbox number with an action URL; callers vary (every tenth
withheld) unless --from is given. Prints the count per outcome, throughput and the p50/p99
latency of the action-URL request. Load-mode calls are NOT persisted or charged, so the figures
measure the action URLs and not the sandbox's own database writes.
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Keep the paragraphs of the help text as written.
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument(
            "--to",
            action="extend",
            nargs="+",
            default=[],
            metavar="DIN",
            help="the dialled sandbox number: +815012345678, 815012345678 or 05012345678",
        )
        parser.add_argument(
            "--from",
            dest="caller",
            default=None,
            metavar="NUMBER|anonymous",
            help="the caller's number, or 'anonymous' for a withheld one (default: anonymous; "
            "varied callers in load mode)",
        )
        parser.add_argument("--calls", type=int, default=None, help="load mode: number of calls")
        parser.add_argument(
            "--concurrency", type=int, default=10, help="load mode: calls at a time (max 64)"
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=5.0,
            help="seconds the action URL has to answer (Xoxzo's is undocumented; default 5)",
        )

    def handle(self, *args, to, caller, calls, concurrency, timeout, **options):
        if calls is not None:
            return self._load(
                to=to, caller=caller, calls=calls, concurrency=concurrency, timeout=timeout
            )
        if len(to) != 1:
            raise CommandError("Give exactly one --to number (or --calls N for load mode).")
        call, transcript = incoming_calls.sandbox_incoming_call(
            to=to[0], caller=caller, timeout=timeout
        )
        self.stdout.write(transcript.format_text())
        self.stdout.write(f"Call id: {call.call_id}")
        if transcript.outcome == "failed":
            sys.exit(1)

    def _load(self, *, to, caller, calls, concurrency, timeout):
        try:
            result = incoming_calls.sandbox_incoming_burst(
                to=to, calls=calls, concurrency=concurrency, caller=caller, timeout=timeout
            )
        except errors.SandboxValidationError as error:
            messages = [
                f"{field}: {message}" for field, items in error.errors.items() for message in items
            ]
            raise CommandError(" ".join(messages)) from None
        self.stdout.write(result.format_text())
