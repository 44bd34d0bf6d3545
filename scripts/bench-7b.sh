#!/usr/bin/env bash
# The large-model benchmarks of BENCHMARKS.md ("Models larger than memory"), in one run:
#  1. every command that runs a model, on a random Llama-2-7B-shaped BF16 checkpoint under
#     --max-memory 4g, each in a fresh JVM: wall time and peak resident memory (VmHWM);
#  2. predict on the 2-layer slice of that checkpoint with the jar of the commit before
#     streaming (default: 8e7fa4d) and with this one, at their default settings;
#  3. the streamed forward against its floor (page cache hot, then dropped), layer-major
#     against batch-major eval on 256 cases, and generate with and without the KV cache.
# Checkpoints (13.5 GB and 1.3 GB) and outputs go under bench-data/ (git-ignored).
#
# usage: scripts/bench-7b.sh [THREADS] [BEFORE_COMMIT]
# needs: JAVA_HOME (Java 25), mvn, git, GNU time (/usr/bin/time), dd; ~45 GB of free disk
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
THREADS=${1:-2}
BEFORE=${2:-8e7fa4d}
D=bench-data
M7=$D/llama2-7b
M2=$D/llama2-7b-2layers
RUN=$D/7b-run
mkdir -p "$RUN"

scripts/neurotome --version >/dev/null
scripts/bench SevenBillionCheckpoint "$M7" 32
scripts/bench SevenBillionCheckpoint "$M2" 2

cat > "$RUN/zero-18.yaml" <<YAML
model:
  path: $(pwd)/$M7
edit:
  - op: zero-neurons
    neurons: [22.2651, 19.8436, 31.5, 31.6, 30.100, 30.101, 29.7, 28.3696, 25.7164, 19.5769, 12.4072, 11.2258, 20.1, 20.2, 21.3, 22.4, 23.5, 24.6]
output:
  dir: $(pwd)/$RUN/zero-18-out
  dtype: BF16
YAML
cat > "$RUN/suite-64.yaml" <<YAML
name: bench-64
tasks:
  - id: arithmetic
    kind: arithmetic
    dataset: $(pwd)/eval/datasets/arithmetic.jsonl
    limit: 32
  - id: gender
    kind: gender
    dataset: $(pwd)/eval/datasets/gender.jsonl
    limit: 32
YAML

row() {
    local name=$1; shift
    local code=0
    /usr/bin/time -o "$RUN/time.txt" -f '%e %M' "$@" >"$RUN/last.out" 2>"$RUN/last.err" || code=$?
    local stats secs kib
    stats=$(tail -n 1 "$RUN/time.txt")
    secs=${stats% *}
    kib=${stats#* }
    printf '| %s | %s | %d | %.2f | %s |\n' "$name" "$secs" "$((kib / 1024))" "$(echo "$kib / 1048576" | bc -l)" "$code"
}

echo "### Commands on the 7B checkpoint (--max-memory 4g, --threads $THREADS, fresh JVM each)"
echo
echo "| command | seconds | peak RSS MiB | peak RSS GiB | exit |"
echo "| --- | --- | --- | --- | --- |"
COMMON=(--max-memory 4g --threads "$THREADS")
row "predict --ids (8 tokens)" scripts/neurotome predict "$M7" --ids 1,450,4996,310,3444,338,3681,29889 "${COMMON[@]}"
row "locate --method attribution (one prompt)" scripts/neurotome locate "$M7" --method attribution --prompt "The capital of France is" --top 10 "${COMMON[@]}"
row "locate --method cna --contrast (one pair)" scripts/neurotome locate "$M7" --method cna --prompt "A woman works as a" --contrast "A man works as a" --top 10 "${COMMON[@]}"
row "apply: zero 18 neurons, write BF16" scripts/neurotome apply "$RUN/zero-18.yaml" --force "${COMMON[@]}"
row "eval: 64-case suite" scripts/neurotome eval "$M7" --suite "$RUN/suite-64.yaml" --out "$RUN/eval-64" "${COMMON[@]}"
echo

echo "### predict on the 2-layer slice ($(du -h "$M2/model.safetensors" | cut -f1)), default settings, before and after"
echo
if [[ ! -f "$D/before/target/neurotome.jar" ]]; then
    rm -rf "$D/before"
    git worktree add --detach "$D/before" "$BEFORE" >/dev/null 2>&1 || git -C "$D/before" checkout --detach "$BEFORE"
    (cd "$D/before" && mvn -q -B package -DskipTests >/dev/null)
fi
echo "| build | seconds | peak RSS MiB | peak RSS GiB | exit |"
echo "| --- | --- | --- | --- | --- |"
row "before ($BEFORE)" "$JAVA_HOME/bin/java" -Dai.djl.offline=true --enable-native-access=ALL-UNNAMED -jar "$D/before/target/neurotome.jar" predict "$M2" --ids 1,450,4996,310,3444,338,3681,29889
row "after (kept: fits the default budget)" scripts/neurotome predict "$M2" --ids 1,450,4996,310,3444,338,3681,29889
row "after, --max-memory 1300m (streamed)" scripts/neurotome predict "$M2" --ids 1,450,4996,310,3444,338,3681,29889 --max-memory 1300m
echo

echo "### Streamed forward against its floor"
scripts/bench StreamingBenchmark "$M7" 4g 2 hot 2>/dev/null
scripts/bench StreamingBenchmark "$M7" 4g 2 cold 2>/dev/null
echo
echo "### Eval on 256 cases, layer-major against batch-major"
scripts/bench EvalStreamingBenchmark "$M7" 256 4g 2>/dev/null
echo
echo "### generate --max-new 256 with and without the KV cache (GPT-2 small shape)"
scripts/bench KvCacheBenchmark "$D" 256 2 2>/dev/null
