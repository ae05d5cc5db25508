"""Run every test in tests/synapse and close with one line for CI:
``synapse: N passed, N failed`` (and ``, N skipped`` when some were)."""

from __future__ import annotations

import sys
import time
import unittest
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


class CountingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0
        self.failed = 0
        self.started = 0.0

    def startTest(self, test):
        self.started = time.monotonic()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        self.stream.write(f"    ({time.monotonic() - self.started:.2f} s)\n")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.failed += 1

    def addError(self, test, err):
        # Also module/class fixtures (a Synapse that would not start): loud.
        super().addError(test, err)
        self.failed += 1

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed += 1

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.stream.write(f"SKIPPED: {test.id()}: {reason}\n")


def main() -> int:
    # Synapse's own imports warn about its dependencies' deprecations: noise here.
    warnings.simplefilter("ignore", DeprecationWarning)
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(str(HERE), pattern=pattern, top_level_dir=str(HERE))
    result = unittest.TextTestRunner(resultclass=CountingResult, verbosity=2, stream=sys.stdout).run(suite)
    line = f"synapse: {result.passed} passed, {result.failed} failed"
    if result.skipped:
        line += f", {len(result.skipped)} skipped"
    print(line, flush=True)
    return 0 if result.failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
