#!/usr/bin/env bash
# UCM-captions (en + ar) benchmark of GitHub issue 4, item 6, end to end: ours (en / ar / en,ar) and the peer
# (VisionTextDualEncoderModel, run_clip-style), same towers, image size and optimizer steps; test-split recall.
#
#   bash benchmarks/ucm/run_all.sh              # from the repo root; ~68 min on 1 CPU thread
#   DIAGNOSE=1 bash benchmarks/ucm/run_all.sh   # + the diagnostic runs of RESULTS.md (~45 min more)
#
# Needs ../shared (UCM-captions and the multilingual-e5-small builder). Weights and runs go under outputs/
# (git-ignored); the numbers go to benchmarks/ucm/*.json and the training logs to benchmarks/ucm/logs/.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
DATA=outputs/ucm_bilingual_val
RUNS=outputs/ucm_runs
mkdir -p benchmarks/ucm/logs "$RUNS"
TIMES=benchmarks/ucm/logs/wall_times.tsv

# 1. The text tower (multilingual-e5-small, built offline) and bilingual UCM with a validation split.
bash ../shared/tools/multilingual_e5_small/build.sh outputs/e5 "$PY"
[[ -d $DATA ]] || "$PY" benchmarks/build_ucm.py --out "$DATA" --val-fraction 0.1

# 2. The shared budget: 6 epochs of 27 batches of 64 images = 162 optimizer steps; validation every 54 steps.
COMMON=(--dataset "$DATA" --config benchmarks/ucm/config_vit_small_128.json --text_model outputs/e5
        --text_pooling mean --text_prefix "query: " --image_size 128 --freeze_text_embeddings
        --learning_rate 1e-4 --per_device_train_batch_size 64 --num_train_epochs 6 --seed 42
        --eval_strategy steps --eval_steps 54 --save_strategy steps --save_steps 54 --load_best_model_at_end true
        --logging_steps 10)

timed() {  # timed NAME COMMAND...: run, and append the wall time to $TIMES
  local name=$1 start=$SECONDS; shift
  "$@"
  printf '%s\t%d\n' "$name" $((SECONDS - start)) >> "$TIMES"
}

# 3. Ours (bilingual, English-only, Arabic-only), each evaluated on the test split in its languages.
ours() {  # ours LANGS [SUFFIX [EXTRA TRAIN.PY FLAGS...]]
  local langs=$1 name=ours_${1/,/_}${2:-}; shift; shift || true
  timed "$name train" "$PY" hub_scripts/train.py --output_dir "$RUNS/$name" --languages "$langs" "${COMMON[@]}" "$@"
  cp "$RUNS/$name/trainer_state.json" "benchmarks/ucm/logs/${name}_trainer_state.json"
  timed "$name test-eval" "$PY" hub_scripts/evaluate.py --model "$RUNS/$name" --dataset "$DATA" --split test \
    --languages "$langs" --name "$name" --out "benchmarks/ucm/$name.json"
}

# 4. The peer: VisionTextDualEncoderModel, one row per caption (en and ar), pooler outputs, no augmentation,
#    plain Trainer; same ViT config, e5 folder, image size, batch, steps, learning rate and frozen embeddings.
peer() {  # peer [SUFFIX [EXTRA FLAGS...]]
  local name=peer${1:-}; shift || true
  timed "$name train+test-eval" "$PY" benchmarks/ucm_peer_baseline.py --dataset "$DATA" --text_model outputs/e5 \
    --vision_config benchmarks/ucm/config_vit_small_128.json --image_size 128 --languages en,ar \
    --text_prefix "query: " --freeze_text_embeddings --learning_rate 1e-4 --per_device_train_batch_size 64 \
    --max_steps 162 --seed 42 --eval_every 54 --logging_steps 10 --output_dir "$RUNS/$name" \
    --out "benchmarks/ucm/$name.json" "$@"
}

: > "$TIMES"
ours en,ar
peer
ours en
ours ar

# 5. Diagnostics (RESULTS.md, "Why"): ours without augmentation, ours and the peer at lr 3e-4, paired bootstraps.
if [[ ${DIAGNOSE:-0} == 1 ]]; then
  ours en,ar _noaug --augment false
  ours en,ar _lr3e-4 --learning_rate 3e-4
  peer _lr3e-4 --learning_rate 3e-4
  ours en,ar _locked_lr5e-4 --freeze_text_tower --learning_rate 5e-4
  B=(benchmarks/ucm/paired_bootstrap.py --dataset "$DATA" --rounds 1000)
  "$PY" "${B[@]}" --a "$RUNS/ours_en_ar" --b "peer:$RUNS/peer" --languages en,ar \
    > benchmarks/ucm/logs/bootstrap_ours_en_ar_vs_peer.txt
  "$PY" "${B[@]}" --a "$RUNS/ours_en" --b "peer:$RUNS/peer" --languages en > benchmarks/ucm/logs/bootstrap_ours_en_vs_peer.txt
  "$PY" "${B[@]}" --a "$RUNS/ours_ar" --b "peer:$RUNS/peer" --languages ar > benchmarks/ucm/logs/bootstrap_ours_ar_vs_peer.txt
  "$PY" "${B[@]}" --a "$RUNS/ours_en_ar_lr3e-4" --b "peer:$RUNS/peer_lr3e-4" --languages en,ar \
    > benchmarks/ucm/logs/bootstrap_ours_en_ar_lr3e-4_vs_peer_lr3e-4.txt
fi
cat "$TIMES"
