#!/usr/bin/env bash
# The soak oracle judged on hand-made kube-sim logs (violations it must find, windows it must accept).
. "$(dirname "$0")/../lib.sh"
PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$(dirname "$0")/oracle_selftest.py"
