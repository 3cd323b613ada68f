#!/usr/bin/env bash
# make demo: the main job on the local API server (see README.md).
echo "leasefence demo: not built yet."
echo "It will start kube-sim, 'leasefence serve' registered as a webhook and three"
echo "'leasefence elect' candidates that keep writing, show who holds the Lease and"
echo "which writes are allowed or denied, stop the leader and show the handover."
