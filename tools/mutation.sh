#!/usr/bin/env bash
# Mutation testing of the book's core numeric paths with mutmut (configured in
# pyproject.toml, [tool.mutmut]). Not part of CI: it takes tens of minutes of CPU.
#
# What is mutated: only the functions listed in FUNCTIONS below --
#   - cnnbook.cnn1d: every layer's forward and backward pass, the loss, and gradients();
#   - cnnbook.attribution: the rule mechanism (the rules, the ReLU autograd function and the
#     function mode that routes ReLU calls to it, attribute(), layer_backward()) and the
#     target handling;
#   - cnnbook.equivariance: the shifts and the error measures.
# Error messages are not mutated (do_not_mutate_patterns skips `raise` statements): their
# wording is not behaviour, while the conditions that raise them are mutated.
# Which tests run: the fast unit and property tests of those modules (pyproject.toml,
# pytest_add_cli_args_test_selection); each mutant runs only the tests that call its
# function, and stops at the first failure. Hypothesis runs derandomised (CI=1), so a run
# is reproducible.
#
# Usage:  tools/mutation.sh [MAX_CHILDREN]      (default 1: the machine is shared)
# Then:   mutmut show NAME      the diff of one mutant
#         mutmut results        every mutant that was not killed
# The summary counts the mutants of FUNCTIONS, and the kill rate leaves out the mutants
# that tools/mutation-equivalent.md lists as equivalent (each with its reason).
set -euo pipefail
cd "$(dirname "$0")/.."

FUNCTIONS=(
    # cnn1d: layers, loss, network, gradients
    cnnbook.cnn1d.layers.x_pad_forward cnnbook.cnn1d.layers.x_conv_forward
    cnnbook.cnn1d.layers.x_conv_backward
    cnnbook.cnn1d.layers.x_relu_forward cnnbook.cnn1d.layers.x_relu_backward
    cnnbook.cnn1d.layers.x__tap_slices
    cnnbook.cnn1d.layers.x_avgpool_forward cnnbook.cnn1d.layers.x_avgpool_backward
    cnnbook.cnn1d.layers.x_dense_forward cnnbook.cnn1d.layers.x_dense_backward
    cnnbook.cnn1d.layers.x_sigmoid cnnbook.cnn1d.layers.x_bce_with_logits
    cnnbook.cnn1d.network.x__network_forward cnnbook.cnn1d.network.x__network_backward
    cnnbook.cnn1d.network.x_gradients
    # attribution: the rule mechanism and the targets
    cnnbook.attribution.rules.x__rule "cnnbook.attribution.rules.xǁ_RuleReLUǁforward"
    "cnnbook.attribution.rules.xǁ_RuleReLUǁbackward"
    cnnbook.attribution.rules.x__relu_arguments
    "cnnbook.attribution.rules.xǁ_ReLURuleModeǁ__init__"
    "cnnbook.attribution.rules.xǁ_ReLURuleModeǁ__torch_function__"
    cnnbook.attribution.rules.x_relu_rule cnnbook.attribution.maps.x__targets
    cnnbook.attribution.maps.x_attribute cnnbook.attribution.layerwise.x_layer_backward
    # equivariance: shifts and error measures
    cnnbook.equivariance.shifts.x__as_tuple
    cnnbook.equivariance.shifts.x_check_padding_mode
    cnnbook.equivariance.shifts.x__normalise_axes
    cnnbook.equivariance.shifts.x__shifts_and_axes
    cnnbook.equivariance.shifts.x_shift cnnbook.equivariance.shifts.x_shift2d
    cnnbook.equivariance.shifts.x_fractional_shift cnnbook.equivariance.measures.x__norm
    cnnbook.equivariance.measures.x__relative_l2
    cnnbook.equivariance.measures.x_equivariance_residual
    cnnbook.equivariance.measures.x__residual_and_output
    cnnbook.equivariance.measures.x_equivariance_error
    cnnbook.equivariance.measures.x_invariance_error
    cnnbook.equivariance.measures.x_transform_error
)

export CI=1             # hypothesis: the tests' derandomised profile (tests/conftest.py)
# One thread: mutmut forks its test workers, and a fork of a process whose OpenMP pool
# has started hangs in torch's first parallel operation.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
unset PYTHONPATH        # mutmut puts its mutated copy of src/ first on the path
rm -rf mutants
patterns=()
for f in "${FUNCTIONS[@]}"; do patterns+=("${f}__mutmut_*"); done
mutmut run --max-children "${1:-1}" "${patterns[@]}" | tr '\r' '\n' | grep -v '^⠋\|^⠙\|^⠹\|^⠸\|^⠼\|^⠴\|^⠦\|^⠧\|^⠇\|^⠏' || true

mutmut results --all true > mutants/results.txt
python3 - "${FUNCTIONS[@]}" <<'EOF'
import collections
import re
import sys
from pathlib import Path

functions = tuple(f + "__mutmut_" for f in sys.argv[1:])
status = {}
for line in Path("mutants/results.txt").read_text().splitlines():
    name, _, result = line.strip().rpartition(": ")
    if name.startswith(functions):
        status[name] = result
equivalent = set(re.findall(r"^- `([^`]+)`", Path("tools/mutation-equivalent.md").read_text(), re.M))
counts = collections.Counter(status.values())
print("mutants of the listed functions:", dict(sorted(counts.items())))
killed = sum(n for s, n in counts.items() if s in ("killed", "timeout", "caught by type check"))
alive = sorted(n for n, s in status.items() if s not in ("killed", "timeout", "caught by type check"))
unexplained = [n for n in alive if n not in equivalent]
stale = sorted(equivalent - set(alive))
considered = len(status) - len(equivalent & set(alive))
print(f"killed {killed} of {len(status)}; listed as equivalent {len(set(alive) & equivalent)}")
print(f"kill rate over the non-equivalent mutants: {killed / max(considered, 1):.1%}")
for n in unexplained:
    print(f"not killed, not listed as equivalent: {n} ({status[n]})")
for n in stale:
    print(f"listed as equivalent but killed or gone: {n}")
EOF
