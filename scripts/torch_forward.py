#!/usr/bin/env python3
"""The forward pass of neurotome's benchmark in PyTorch eager, for a side-by-side speed check.

Reads a checkpoint directory written by org.neurotome.bench.ForwardBenchmark (config.json +
model.safetensors, GPT-2 or Llama family), runs the same batch of token ids (B sequences of
S tokens, logits at the last position) with plain torch ops as transformers' modeling_gpt2.py
and modeling_llama.py compute them with the "eager" attention, reports tokens/s, and compares
row 0's logits with the Java run's (<dir>/java.json).

usage: torch_forward.py MODEL_DIR [--batch 8] [--seq 128] [--iters 5] [--threads N]
"""
import argparse
import json
import math
import os
import statistics
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", f"{name}: only F32 benchmark checkpoints are supported"
        begin, end = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data, dtype=np.float32, count=(end - begin) // 4,
                                                   offset=begin).reshape(t["shape"]).copy())
    return out


def batch(rows, seq, vocab):
    return torch.tensor([[(b * 7919 + i * 104729 + 13) % vocab for i in range(seq)] for b in range(rows)])


def causal_mask(s):
    return torch.full((s, s), float("-inf")).triu(1)


def gpt2_forward(cfg, w, ids):
    L, H, D = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    hd, eps = D // H, cfg["layer_norm_epsilon"]
    B, S = ids.shape
    p = "transformer."
    x = F.embedding(ids, w[p + "wte.weight"]) + w[p + "wpe.weight"][:S]
    mask = causal_mask(S)
    for l in range(L):
        q = f"{p}h.{l}."
        h = F.layer_norm(x, (D,), w[q + "ln_1.weight"], w[q + "ln_1.bias"], eps)
        qkv = torch.addmm(w[q + "attn.c_attn.bias"], h.view(-1, D), w[q + "attn.c_attn.weight"]).view(B, S, 3 * D)
        qq, kk, vv = qkv.split(D, dim=2)
        qq, kk, vv = (t.view(B, S, H, hd).transpose(1, 2) for t in (qq, kk, vv))
        att = torch.matmul(qq, kk.transpose(-1, -2)) / math.sqrt(hd) + mask
        z = torch.matmul(att.softmax(-1), vv).transpose(1, 2).reshape(B, S, D)
        x = x + torch.addmm(w[q + "attn.c_proj.bias"], z.view(-1, D), w[q + "attn.c_proj.weight"]).view(B, S, D)
        h = F.layer_norm(x, (D,), w[q + "ln_2.weight"], w[q + "ln_2.bias"], eps)
        a = torch.addmm(w[q + "mlp.c_fc.bias"], h.view(-1, D), w[q + "mlp.c_fc.weight"])
        a = 0.5 * a * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (a + 0.044715 * torch.pow(a, 3.0))))
        x = x + torch.addmm(w[q + "mlp.c_proj.bias"], a, w[q + "mlp.c_proj.weight"]).view(B, S, D)
    h = F.layer_norm(x[:, -1], (D,), w[p + "ln_f.weight"], w[p + "ln_f.bias"], eps)
    return F.linear(h, w.get("lm_head.weight", w[p + "wte.weight"]))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(cfg, w, ids):
    L, H, D = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["hidden_size"]
    KV = cfg.get("num_key_value_heads", H)
    hd, eps, theta = D // H, cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    B, S = ids.shape

    def rms(x, g):
        return g * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.outer(torch.arange(S, dtype=torch.float64), inv)
    cos = torch.cat((ang, ang), -1).cos().float()
    sin = torch.cat((ang, ang), -1).sin().float()
    x = F.embedding(ids, w["model.embed_tokens.weight"])
    mask = causal_mask(S)
    for l in range(L):
        q = f"model.layers.{l}."
        h = rms(x, w[q + "input_layernorm.weight"])
        qq = F.linear(h, w[q + "self_attn.q_proj.weight"]).view(B, S, H, hd).transpose(1, 2)
        kk = F.linear(h, w[q + "self_attn.k_proj.weight"]).view(B, S, KV, hd).transpose(1, 2)
        vv = F.linear(h, w[q + "self_attn.v_proj.weight"]).view(B, S, KV, hd).transpose(1, 2)
        qq = qq * cos + rotate_half(qq) * sin
        kk = kk * cos + rotate_half(kk) * sin
        kk = kk.repeat_interleave(H // KV, dim=1)
        vv = vv.repeat_interleave(H // KV, dim=1)
        att = torch.matmul(qq, kk.transpose(2, 3)) / math.sqrt(hd) + mask
        z = torch.matmul(att.softmax(-1), vv).transpose(1, 2).reshape(B, S, H * hd)
        x = x + F.linear(z, w[q + "self_attn.o_proj.weight"])
        h = rms(x, w[q + "post_attention_layernorm.weight"])
        m = F.silu(F.linear(h, w[q + "mlp.gate_proj.weight"])) * F.linear(h, w[q + "mlp.up_proj.weight"])
        x = x + F.linear(m, w[q + "mlp.down_proj.weight"])
    h = rms(x[:, -1], w["model.norm.weight"])
    return F.linear(h, w.get("lm_head.weight", w["model.embed_tokens.weight"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    w = load_safetensors(os.path.join(a.model, "model.safetensors"))
    forward = {"gpt2": gpt2_forward, "llama": llama_forward}[cfg["model_type"]]
    ids = batch(a.batch, a.seq, cfg["vocab_size"])
    with torch.inference_mode():
        logits = forward(cfg, w, ids)
        times = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            forward(cfg, w, ids)
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    result = {"model": os.path.basename(os.path.normpath(a.model)), "torch": torch.__version__,
              "threads": torch.get_num_threads(),
              "median_s": median, "best_s": min(times), "tokens_per_s": a.batch * a.seq / median, "seconds": times}
    java = os.path.join(a.model, "java.json")
    if os.path.exists(java):
        ref = torch.tensor(json.load(open(java))["logits_row0"])
        result["max_abs_diff_vs_java"] = float((logits[0] - ref).abs().max())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
