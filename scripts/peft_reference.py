#!/usr/bin/env python3
"""Reference LoRA adapters written by PEFT itself, for neurotome's adapter tests.

For each tiny reference checkpoint (src/test/resources/reference/<case>), builds a PEFT LoRA
adapter with random A and B on every projection of the family (each case varies the config:
rank/alpha patterns, rsLoRA, layers_to_transform, a regular-expression target, exclude_modules),
saves it with PeftModel.save_pretrained into src/test/resources/lora/<case>/adapter, and records
the last-position logits of the reference prompts computed by PEFT's own forward (adapter
active, not merged) and after merge_and_unload, in src/test/resources/lora/<case>/expected.json.

With --check DIR MODEL: loads the adapter neurotome wrote in DIR onto MODEL with
PeftModel.from_pretrained and prints the last-position logits of ids given with --ids.

Needs torch, transformers (5.x) and peft (0.21): not part of the build.
usage: peft_reference.py [--cases a,b] | --check ADAPTER_DIR MODEL_DIR --ids 1,2,3
"""
import argparse
import json
import os
import shutil

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "resources")

# per case: the LoraConfig keyword arguments
CASES = {
    "gpt2_tied": dict(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "c_fc"]),
    "gpt2_odd_untied": dict(r=3, lora_alpha=5, target_modules=["c_attn", "c_fc"], layers_to_transform=[0, 2]),
    "llama_gqa_tied_bf16": dict(r=4, lora_alpha=16,
                                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                "down_proj"],
                                rank_pattern={"v_proj": 2}, alpha_pattern={"down_proj": 3.0}),
    "llama_sharded_f16": dict(r=2, lora_alpha=4, target_modules="all-linear"),
    "qwen2_bias": dict(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], use_rslora=True),
    "mistral": dict(r=4, lora_alpha=8, target_modules=r".*\.(q_proj|v_proj|down_proj)"),
    "gptj_partial_rotary": dict(r=4, lora_alpha=8,
                                target_modules=["q_proj", "k_proj", "v_proj", "out_proj", "fc_in", "fc_out"]),
    "gpt_neox_parallel": dict(r=4, lora_alpha=8,
                              target_modules=["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"]),
    "qwen3_qk_norm": dict(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"],
                          exclude_modules=["model.layers.1.self_attn.k_proj"]),
    "gemma2_softcap_window": dict(r=4, lora_alpha=8,
                                  target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                  "down_proj"]),
    "phi3_fused": dict(r=4, lora_alpha=8, target_modules=["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]),
    "llama3_rope_scaling": dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], use_rslora=True),
    "mistral_short_window": dict(r=4, lora_alpha=8, target_modules=["o_proj", "gate_proj"]),
}


def load(model_dir):
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()


def last_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].tolist()


def build(case):
    ref = os.path.join(ROOT, "reference", case)
    prompts = [p["ids"] for p in json.load(open(os.path.join(ref, "expected.json")))["prompts"]]
    base = load(ref)
    torch.manual_seed(sum(map(ord, case)))
    model = get_peft_model(base, LoraConfig(init_lora_weights=False, **CASES[case]))
    out = os.path.join(ROOT, "lora", case)
    adapter = os.path.join(out, "adapter")
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(adapter)
    os.remove(os.path.join(adapter, "README.md"))
    with_adapter = [last_logits(model, ids) for ids in prompts]
    merged = model.merge_and_unload()
    merged_logits = [last_logits(merged, ids) for ids in prompts]
    expected = {"format": "neurotome-lora-reference/1", "case": case, "config": {k: v for k, v in CASES[case].items()},
                "prompts": [{"ids": ids, "logits": a, "merged_logits": m}
                            for ids, a, m in zip(prompts, with_adapter, merged_logits)]}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print(case, "written")


def check(adapter_dir, model_dir, ids):
    model = PeftModel.from_pretrained(load(model_dir), adapter_dir).eval()
    print(json.dumps(last_logits(model, ids)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--check", nargs=2, metavar=("ADAPTER_DIR", "MODEL_DIR"))
    ap.add_argument("--ids", default="1")
    a = ap.parse_args()
    if a.check:
        check(a.check[0], a.check[1], [int(x) for x in a.ids.split(",")])
        return
    for case in a.cases.split(","):
        build(case)


if __name__ == "__main__":
    main()
