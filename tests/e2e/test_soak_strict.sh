#!/usr/bin/env bash
# The chaos soak, short (about 30 s of chaos), with a strict fence: no write admitted whose admission call was
# sent after the holder change was committed.  See soak.sh; `make soak` runs the long ones.
exec bash "$(dirname "$0")/soak.sh" --duration "${E2E_SOAK_SECONDS:-30}" --candidates 3 --consistency strict "$@"
