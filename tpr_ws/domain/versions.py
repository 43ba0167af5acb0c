"""The versions that address stored work: what a file parses to, and what a rule computes.

Stored objects outlive releases (`TPR_WS_BLOB_TTL_S`, 7 days by default), and they are found
by keys that name these versions, so a release that changes an output must bump the version
of that output; the stored objects of the previous release are then never served for it.
`tests/domain/test_versions.py` fingerprints both outputs on the generated sample files and
fails ("parse output changed: bump PARSE_VERSION and update the fingerprint") until the
version is bumped and the new fingerprint recorded next to it.
"""

from __future__ import annotations

from typing import Final

# Bump whenever what a file yields may change: the tidy frame (which rows, names, levels,
# periods, counts: the readers, headers, prefixes, split merging, cleaning), the per-ward sums,
# or the upload's report and overview. It is part of a dataset's identity (`blob.dataset_key`):
# the same bytes uploaded after a bump are parsed again, under a new key, and every analysis
# of the new parse gets new result keys.
PARSE_VERSION: Final = 1

# Bump whenever what compute_tpr returns for the same dataset changes (the rule, rounding, the
# ward set, the summary's fields): results are addressed by it, so an old key keeps its bytes.
RULE_VERSION: Final = 1
