#!/usr/bin/python3
"""Export tiny random-weight transformer models to ONNX as reference inputs for npusim.

The models are written by hand in plain torch.nn, following the structure of the
Hugging Face `transformers` implementations (GPT-2, OPT, Llama, Qwen2, BERT), so that
`torch.onnx.export` sees the same operator patterns (mask construction, RoPE,
repeat_kv, fused qkv split, tied heads, ...) a real HF export produces.  No
`transformers` package and no downloaded weights are needed: weights are random
with a fixed seed.

For every export the script writes, into the output directory:
  <model>[_<variant>]_op<N>[_nofold].onnx      the model (fixed shapes, fp32 weights)
  <file stem>.<graph input/output name>.npy    the inputs and PyTorch's outputs
  manifest.json                                shapes, dtypes, parameters, MACs, op counts

Re-run (Debian 12: `apt-get install python3-torch python3-onnx`, torch 1.13,
onnx 1.12; Debian's python3 is /usr/bin/python3):

    /usr/bin/python3 scripts/export_onnx.py                # writes tests/onnx/torch
    /usr/bin/python3 scripts/export_onnx.py --out /tmp/x   # elsewhere
    /usr/bin/python3 scripts/export_onnx.py --check        # re-check an existing directory

The run is deterministic: on the same machine it rewrites bit-identical .npy files
(fixed seeds, one intra-op thread).  `--check` loads every file listed in the
manifest, runs onnx.checker, compares every .npy with the manifest's shape and
dtype, and evaluates each graph with a small numpy interpreter (below) against
the saved PyTorch outputs.
"""

import argparse
import hashlib
import json
import math
import os
import re
import sys
import warnings
from collections import Counter

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "onnx", "torch")

# Dimensions shared by all models: small enough that each .onnx stays under 200 KB
# (hidden 64 would put a two-layer model at 300 KB or more).
HIDDEN = 32
HEADS = 4
KV_HEADS = 2
LAYERS = 2
VOCAB = 128
SEQ = 8
MAX_POS = 16


# ---------------------------------------------------------------------------
# Activations (HF activations.py equivalents)
# ---------------------------------------------------------------------------

def gelu_new(x):
    """GPT-2's "gelu_new": the tanh approximation of GELU, written out."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


# ---------------------------------------------------------------------------
# GPT-2
# ---------------------------------------------------------------------------

class Conv1D(nn.Module):
    """GPT-2's transposed linear layer: weight is [in, out], y = x @ W + b via addmm."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        out_shape = x.size()[:-1] + (self.nf,)
        flat = x.view(-1, x.size(-1))
        return torch.addmm(self.bias, flat, self.weight).view(out_shape)


class GPT2Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        n = cfg["n_positions"]
        causal = torch.tril(torch.ones((n, n), dtype=torch.bool)).view(1, 1, n, n)
        self.register_buffer("bias", causal, persistent=False)
        self.embed_dim = cfg["n_embd"]
        self.num_heads = cfg["n_head"]
        self.head_dim = self.embed_dim // self.num_heads
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(cfg["attn_pdrop"])
        self.resid_dropout = nn.Dropout(cfg["resid_pdrop"])

    def _split_heads(self, t):
        t = t.view(t.size()[:-1] + (self.num_heads, self.head_dim))
        return t.permute(0, 2, 1, 3)

    def _merge_heads(self, t):
        t = t.permute(0, 2, 1, 3).contiguous()
        return t.view(t.size()[:-2] + (self.num_heads * self.head_dim,))

    def _attn(self, q, k, v):
        scores = torch.matmul(q, k.transpose(-1, -2))
        scores = scores / torch.full([], v.size(-1) ** 0.5, dtype=scores.dtype, device=scores.device)
        q_len, k_len = q.size(-2), k.size(-2)
        causal = self.bias[:, :, k_len - q_len:k_len, :k_len]
        fill = torch.full([], torch.finfo(scores.dtype).min, dtype=scores.dtype, device=scores.device)
        scores = torch.where(causal, scores.to(scores.dtype), fill)
        probs = F.softmax(scores, dim=-1).type(v.dtype)
        probs = self.attn_dropout(probs)
        return torch.matmul(probs, v)

    def forward(self, h):
        q, k, v = self.c_attn(h).split(self.embed_dim, dim=2)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        out = self._merge_heads(self._attn(q, k, v))
        return self.resid_dropout(self.c_proj(out))


class GPT2MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = Conv1D(cfg["n_inner"], cfg["n_embd"])
        self.c_proj = Conv1D(cfg["n_embd"], cfg["n_inner"])
        self.dropout = nn.Dropout(cfg["resid_pdrop"])

    def forward(self, h):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(h))))


class GPT2Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])
        self.attn = GPT2Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])
        self.mlp = GPT2MLP(cfg)

    def forward(self, h):
        h = h + self.attn(self.ln_1(h))
        return h + self.mlp(self.ln_2(h))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        self.drop = nn.Dropout(cfg["embd_pdrop"])
        self.h = nn.ModuleList([GPT2Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])
        self.lm_head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)

    def tie_weights(self):
        self.lm_head.weight = self.wte.weight

    def forward(self, input_ids):
        past_length = 0
        seq = input_ids.size(-1)
        position_ids = torch.arange(past_length, seq + past_length, dtype=torch.long, device=input_ids.device)
        position_ids = position_ids.unsqueeze(0)
        h = self.drop(self.wte(input_ids) + self.wpe(position_ids))
        for block in self.h:
            h = block(h)
        return self.lm_head(self.ln_f(h))


# ---------------------------------------------------------------------------
# OPT
# ---------------------------------------------------------------------------

def make_causal_mask(shape, dtype, device, past_key_values_length=0):
    """HF's _make_causal_mask: [bsz, 1, tgt, tgt + past], 0 where allowed, dtype min elsewhere."""
    bsz, tgt_len = shape
    mask = torch.full((tgt_len, tgt_len), torch.finfo(dtype).min, device=device)
    cond = torch.arange(mask.size(-1), device=device)
    mask.masked_fill_(cond < (cond + 1).view(mask.size(-1), 1), 0)
    mask = mask.to(dtype)
    if past_key_values_length > 0:
        mask = torch.cat([torch.zeros(tgt_len, past_key_values_length, dtype=dtype, device=device), mask], dim=-1)
    return mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len + past_key_values_length)


def expand_mask(mask, dtype, tgt_len=None):
    """HF's _expand_mask: [bsz, src] 1/0 mask -> [bsz, 1, tgt, src] additive mask."""
    bsz, src_len = mask.size()
    tgt_len = tgt_len if tgt_len is not None else src_len
    expanded = mask[:, None, None, :].expand(bsz, 1, tgt_len, src_len).to(dtype)
    inverted = 1.0 - expanded
    return inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)


class OPTLearnedPositionalEmbedding(nn.Embedding):
    """Positions are cumsum(attention_mask) - 1, shifted by 2 (OPT's historical offset)."""

    def __init__(self, num_embeddings, embedding_dim):
        self.offset = 2
        super().__init__(num_embeddings + self.offset, embedding_dim)

    def forward(self, attention_mask, past_key_values_length=0):
        attention_mask = attention_mask.long()
        positions = (torch.cumsum(attention_mask, dim=1).type_as(attention_mask) * attention_mask).long() - 1
        positions = positions[:, past_key_values_length:]
        return super().forward(positions + self.offset)


class OPTAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_dim = cfg["hidden_size"]
        self.num_heads = cfg["num_attention_heads"]
        self.head_dim = self.embed_dim // self.num_heads
        self.scaling = self.head_dim ** -0.5
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.dropout = cfg["attention_dropout"]

    def _shape(self, t, seq_len, bsz):
        return t.view(bsz, seq_len, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, h, attention_mask):
        bsz, tgt_len, _ = h.size()
        q = self.q_proj(h) * self.scaling
        k = self._shape(self.k_proj(h), -1, bsz)
        v = self._shape(self.v_proj(h), -1, bsz)
        proj_shape = (bsz * self.num_heads, -1, self.head_dim)
        q = self._shape(q, tgt_len, bsz).view(*proj_shape)
        k = k.view(*proj_shape)
        v = v.view(*proj_shape)
        src_len = k.size(1)
        w = torch.bmm(q, k.transpose(1, 2))
        w = w.view(bsz, self.num_heads, tgt_len, src_len) + attention_mask
        w = torch.max(w, torch.tensor(torch.finfo(w.dtype).min, device=w.device))
        w = w.view(bsz * self.num_heads, tgt_len, src_len)
        w = F.softmax(w, dim=-1)
        w = F.dropout(w, p=self.dropout, training=self.training)
        out = torch.bmm(w, v)
        out = out.view(bsz, self.num_heads, tgt_len, self.head_dim).transpose(1, 2)
        out = out.reshape(bsz, tgt_len, self.embed_dim)
        return self.out_proj(out)


class OPTDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.self_attn = OPTAttention(cfg)
        self.do_layer_norm_before = cfg["do_layer_norm_before"]
        self.dropout = cfg["dropout"]
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg["ffn_dim"])
        self.fc2 = nn.Linear(cfg["ffn_dim"], d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, h, attention_mask):
        residual = h
        if self.do_layer_norm_before:
            h = self.self_attn_layer_norm(h)
        h = self.self_attn(h, attention_mask)
        h = residual + F.dropout(h, p=self.dropout, training=self.training)
        if not self.do_layer_norm_before:
            h = self.self_attn_layer_norm(h)
        shape = h.shape
        h = h.reshape(-1, h.size(-1))
        residual = h
        if self.do_layer_norm_before:
            h = self.final_layer_norm(h)
        h = self.fc2(F.relu(self.fc1(h)))
        h = (residual + F.dropout(h, p=self.dropout, training=self.training)).view(shape)
        if not self.do_layer_norm_before:
            h = self.final_layer_norm(h)
        return h


class OPTForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], d, cfg["pad_token_id"])
        self.embed_positions = OPTLearnedPositionalEmbedding(cfg["max_position_embeddings"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList([OPTDecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)

    def tie_weights(self):
        self.lm_head.weight = self.embed_tokens.weight

    def forward(self, input_ids):
        bsz, seq = input_ids.size()
        past_key_values_length = 0
        h = self.embed_tokens(input_ids)
        # HF builds an all-ones mask when none is passed.
        attention_mask = torch.ones(bsz, seq + past_key_values_length, device=h.device)
        pos = self.embed_positions(attention_mask, past_key_values_length)
        mask = expand_mask(attention_mask, h.dtype, tgt_len=seq)
        if seq > 1:
            mask = mask + make_causal_mask((bsz, seq), h.dtype, h.device, past_key_values_length)
        h = h + pos
        for layer in self.layers:
            h = layer(h, mask)
        h = self.final_layer_norm(h)
        return self.lm_head(h).contiguous()


# ---------------------------------------------------------------------------
# Llama (current HF layout: rotary module computes cos/sin from inv_freq in forward)
# ---------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.variance_epsilon = eps

    def forward(self, x):
        in_dtype = x.dtype
        x = x.to(torch.float32)
        variance = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * x.to(in_dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(x, n_rep):
    """[b, kv_heads, s, d] -> [b, kv_heads * n_rep, s, d] (each kv head repeated n_rep times)."""
    b, kvh, s, d = x.shape
    if n_rep == 1:
        return x
    x = x[:, :, None, :, :].expand(b, kvh, n_rep, s, d)
    return x.reshape(b, kvh * n_rep, s, d)


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dim = cfg["hidden_size"] // cfg["num_attention_heads"]
        inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.attention_scaling = 1.0

    def forward(self, x, position_ids):
        inv = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        pos = position_ids[:, None, :].float()
        freqs = (inv @ pos).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.head_dim = d // cfg["num_attention_heads"]
        self.num_heads = cfg["num_attention_heads"]
        self.num_key_value_heads = cfg["num_key_value_heads"]
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        self.scaling = self.head_dim ** -0.5
        bias = cfg["attention_bias"]
        self.q_proj = nn.Linear(d, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d, self.num_key_value_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d, self.num_key_value_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, d, bias=bias)
        self.attention_dropout = cfg["attention_dropout"]

    def forward(self, h, position_embeddings, attention_mask, past_key_value=None):
        input_shape = h.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        q = self.q_proj(h).view(hidden_shape).transpose(1, 2)
        k = self.k_proj(h).view(hidden_shape).transpose(1, 2)
        v = self.v_proj(h).view(hidden_shape).transpose(1, 2)
        cos, sin = position_embeddings
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        if past_key_value is not None:
            k = torch.cat([past_key_value[0], k], dim=-2)
            v = torch.cat([past_key_value[1], v], dim=-2)
        present = (k, v)
        # eager_attention_forward
        ks = repeat_kv(k, self.num_key_value_groups)
        vs = repeat_kv(v, self.num_key_value_groups)
        w = torch.matmul(q, ks.transpose(2, 3)) * self.scaling
        if attention_mask is not None:
            w = w + attention_mask[:, :, :, :ks.shape[-2]]
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        w = F.dropout(w, p=self.attention_dropout, training=self.training)
        out = torch.matmul(w, vs).transpose(1, 2).contiguous()
        out = out.reshape(*input_shape, -1).contiguous()
        return self.o_proj(out), present


class GatedMLP(nn.Module):
    """Llama/Qwen2 MLP: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg):
        super().__init__()
        d, i = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, i, bias=False)
        self.up_proj = nn.Linear(d, i, bias=False)
        self.down_proj = nn.Linear(i, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = GatedMLP(cfg)
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, h, attention_mask, position_embeddings, past_key_value=None):
        residual = h
        h, present = self.self_attn(self.input_layernorm(h), position_embeddings, attention_mask, past_key_value)
        h = residual + h
        h = h + self.mlp(self.post_attention_layernorm(h))
        return h, present


def causal_mask_with_cache_position(seq_len, target_len, dtype, device, cache_position, batch):
    """HF _prepare_4d_causal_attention_mask_with_cache_position without a padding mask."""
    min_dtype = torch.finfo(dtype).min
    mask = torch.full((seq_len, target_len), fill_value=min_dtype, dtype=dtype, device=device)
    if seq_len != 1:
        mask = torch.triu(mask, diagonal=1)
    mask *= torch.arange(target_len, device=device) > cache_position.reshape(-1, 1)
    return mask[None, None, :, :].expand(batch, 1, -1, -1)


class LlamaForCausalLM(nn.Module):
    """forward(input_ids[, position_ids, past_key_0, past_value_0, ...]).

    Without a cache returns logits; with one returns (logits, present_key_0,
    present_value_0, ...), each present being the past concatenated with the new step.
    """

    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.rotary_emb = LlamaRotaryEmbedding(cfg)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.tie = cfg["tie_word_embeddings"]
        # torch 1.13 exports aten::triu only from opset 14 on; for older opsets use the
        # mask of transformers <= 4.37 (masked_fill against an arange), same values.
        self.legacy_causal_mask = False

    def tie_weights(self):
        if self.tie:
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, input_ids, position_ids=None, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)] or None
        bsz, seq = input_ids.shape
        h = self.embed_tokens(input_ids)
        past_seen = past[0][0].shape[-2] if past is not None else 0
        cache_position = torch.arange(past_seen, past_seen + seq, device=h.device)
        if position_ids is None:
            position_ids = cache_position.unsqueeze(0)
        if self.legacy_causal_mask:
            mask = make_causal_mask((bsz, seq), h.dtype, h.device, past_seen)
        else:
            mask = causal_mask_with_cache_position(seq, past_seen + seq, h.dtype, h.device, cache_position, bsz)
        position_embeddings = self.rotary_emb(h, position_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            h, present = layer(h, mask, position_embeddings, past[i] if past is not None else None)
            presents.extend(present)
        logits = self.lm_head(self.norm(h))
        if past is None:
            return logits
        return (logits, *presents)


# ---------------------------------------------------------------------------
# Qwen2 (transformers 4.37-4.39 layout: cos/sin cached as buffers, gathered by position_ids)
# ---------------------------------------------------------------------------

class Qwen2RotaryEmbedding(nn.Module):
    def __init__(self, dim, max_position_embeddings, base):
        super().__init__()
        self.dim = dim
        self.base = base
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        t = torch.arange(max_position_embeddings, dtype=torch.int64).type_as(inv_freq)
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos(), persistent=False)
        self.register_buffer("sin_cached", emb.sin(), persistent=False)

    def forward(self, x, seq_len):
        return self.cos_cached[:seq_len].to(dtype=x.dtype), self.sin_cached[:seq_len].to(dtype=x.dtype)


def apply_rotary_pos_emb_gather(q, k, cos, sin, position_ids, unsqueeze_dim=1):
    cos = cos[position_ids].unsqueeze(unsqueeze_dim)
    sin = sin[position_ids].unsqueeze(unsqueeze_dim)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


class Qwen2Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.hidden_size = d
        self.num_heads = cfg["num_attention_heads"]
        self.head_dim = d // self.num_heads
        self.num_key_value_heads = cfg["num_key_value_heads"]
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        self.q_proj = nn.Linear(d, self.num_heads * self.head_dim, bias=True)
        self.k_proj = nn.Linear(d, self.num_key_value_heads * self.head_dim, bias=True)
        self.v_proj = nn.Linear(d, self.num_key_value_heads * self.head_dim, bias=True)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, d, bias=False)
        self.rotary_emb = Qwen2RotaryEmbedding(self.head_dim, cfg["max_position_embeddings"], cfg["rope_theta"])
        self.attention_dropout = cfg["attention_dropout"]

    def forward(self, h, attention_mask, position_ids):
        bsz, q_len, _ = h.size()
        q = self.q_proj(h).view(bsz, q_len, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        kv_seq_len = k.shape[-2]
        cos, sin = self.rotary_emb(v, seq_len=kv_seq_len)
        q, k = apply_rotary_pos_emb_gather(q, k, cos, sin, position_ids)
        k = repeat_kv(k, self.num_key_value_groups)
        v = repeat_kv(v, self.num_key_value_groups)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        w = w + attention_mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        w = F.dropout(w, p=self.attention_dropout, training=self.training)
        out = torch.matmul(w, v).transpose(1, 2).contiguous()
        out = out.reshape(bsz, q_len, self.hidden_size)
        return self.o_proj(out)


class Qwen2DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = Qwen2Attention(cfg)
        self.mlp = GatedMLP(cfg)
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, h, attention_mask, position_ids):
        h = h + self.self_attn(self.input_layernorm(h), attention_mask, position_ids)
        return h + self.mlp(self.post_attention_layernorm(h))


class Qwen2ForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([Qwen2DecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def tie_weights(self):
        self.lm_head.weight = self.embed_tokens.weight

    def forward(self, input_ids):
        bsz, seq = input_ids.shape
        past_key_values_length = 0
        position_ids = torch.arange(past_key_values_length, seq + past_key_values_length,
                                    dtype=torch.long, device=input_ids.device)
        position_ids = position_ids.unsqueeze(0).view(-1, seq)
        h = self.embed_tokens(input_ids)
        mask = make_causal_mask((bsz, seq), h.dtype, h.device, past_key_values_length)
        for layer in self.layers:
            h = layer(h, mask, position_ids)
        return self.lm_head(self.norm(h))


# ---------------------------------------------------------------------------
# BERT (encoder only, no pooler)
# ---------------------------------------------------------------------------

class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], d, padding_idx=cfg["pad_token_id"])
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], d)
        self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], d)
        self.LayerNorm = nn.LayerNorm(d, eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])
        self.register_buffer("position_ids", torch.arange(cfg["max_position_embeddings"]).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids, token_type_ids):
        seq = input_ids.size(1)
        position_ids = self.position_ids[:, 0:seq]
        e = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        e = e + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(e))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.num_attention_heads = cfg["num_attention_heads"]
        self.attention_head_size = d // self.num_attention_heads
        self.all_head_size = d
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.dropout = nn.Dropout(cfg["attention_probs_dropout_prob"])

    def transpose_for_scores(self, x):
        x = x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, h, attention_mask):
        q = self.transpose_for_scores(self.query(h))
        k = self.transpose_for_scores(self.key(h))
        v = self.transpose_for_scores(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        scores = scores + attention_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.all_head_size,))


class BertAddNorm(nn.Module):
    """BertSelfOutput / BertOutput: LayerNorm(dropout(dense(x)) + residual)."""

    def __init__(self, d_in, d, cfg):
        super().__init__()
        self.dense = nn.Linear(d_in, d)
        self.LayerNorm = nn.LayerNorm(d, eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, i = cfg["hidden_size"], cfg["intermediate_size"]
        self.attention = BertSelfAttention(cfg)
        self.attention_output = BertAddNorm(d, d, cfg)
        self.intermediate = nn.Linear(d, i)
        self.output = BertAddNorm(i, d, cfg)

    def forward(self, h, attention_mask):
        a = self.attention_output(self.attention(h, attention_mask), h)
        return self.output(F.gelu(self.intermediate(a)), a)


class BertModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = BertEmbeddings(cfg)
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg["num_hidden_layers"])])

    def tie_weights(self):
        pass

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = self.embeddings(input_ids, token_type_ids)
        dtype = h.dtype
        ext = attention_mask[:, None, None, :].to(dtype=dtype)
        ext = (1.0 - ext) * torch.finfo(dtype).min
        for layer in self.layer:
            h = layer(h, ext)
        return h


# ---------------------------------------------------------------------------
# Configurations, weights and inputs
# ---------------------------------------------------------------------------

CONFIGS = {
    "gpt2": dict(vocab_size=VOCAB, n_positions=MAX_POS, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS,
                 n_inner=4 * HIDDEN, layer_norm_epsilon=1e-5, attn_pdrop=0.1, resid_pdrop=0.1, embd_pdrop=0.1,
                 activation_function="gelu_new", tie_word_embeddings=True),
    "opt": dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                ffn_dim=4 * HIDDEN, max_position_embeddings=MAX_POS, do_layer_norm_before=True, dropout=0.1,
                attention_dropout=0.0, pad_token_id=1, activation_function="relu", tie_word_embeddings=True),
    "llama": dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=86, num_hidden_layers=LAYERS,
                  num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POS,
                  rms_norm_eps=1e-6, rope_theta=10000.0, attention_bias=False, attention_dropout=0.0,
                  hidden_act="silu", tie_word_embeddings=False),
    "qwen2": dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=96, num_hidden_layers=LAYERS,
                  num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POS,
                  rms_norm_eps=1e-6, rope_theta=1000000.0, attention_dropout=0.0, hidden_act="silu",
                  tie_word_embeddings=True),
    "bert": dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                 intermediate_size=4 * HIDDEN, max_position_embeddings=MAX_POS, type_vocab_size=2,
                 layer_norm_eps=1e-12, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                 pad_token_id=0, hidden_act="gelu"),
}

CLASSES = {"gpt2": GPT2LMHeadModel, "opt": OPTForCausalLM, "llama": LlamaForCausalLM,
           "qwen2": Qwen2ForCausalLM, "bert": BertModel}

CAUSAL_MASK = {
    "gpt2": "tril bool buffer, sliced, torch.where(mask, scores, finfo.min)",
    "opt": "masked_fill(arange < arange+1) causal + (1 - ones mask) padding, added; scores clamped by max(finfo.min)",
    "llama": "full(finfo.min) -> triu(diagonal=1) -> *= arange > cache_position, expanded (Trilu)",
    "qwen2": "masked_fill(arange < arange+1), expanded",
    "bert": "none (bidirectional); (1 - attention_mask[:, None, None, :]) * finfo.min",
}

SEEDS = {"gpt2": 1, "opt": 2, "llama": 3, "qwen2": 4, "bert": 5}


def init_weights(model):
    """Random weights with unit-scale activations (HF's initializer_range=0.02 would
    make every attention row nearly uniform at these sizes, hiding mask/softmax bugs).
    Linear/Conv1D ~ N(0, 1/fan_in), embeddings ~ N(0, 1), norm weights ~ 1 + N(0, 0.1),
    biases ~ N(0, 0.05).  Called under a fixed seed, in module order, before tying."""
    with torch.no_grad():
        for _, m in model.named_modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, m.in_features ** -0.5)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.05)
            elif isinstance(m, Conv1D):
                m.weight.normal_(0.0, m.weight.shape[0] ** -0.5)
                m.bias.normal_(0.0, 0.05)
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, 1.0)
                if m.padding_idx is not None:
                    m.weight[m.padding_idx].zero_()
            elif isinstance(m, (nn.LayerNorm, RMSNorm)):
                m.weight.normal_(1.0, 0.1)
                if getattr(m, "bias", None) is not None:
                    m.bias.normal_(0.0, 0.05)


def build(name):
    torch.manual_seed(SEEDS[name])
    model = CLASSES[name](CONFIGS[name])
    init_weights(model)
    model.tie_weights()
    return model.eval()


def make_inputs(name, variant):
    """Returns (ordered list of (graph input name, tensor), forward args, output names)."""
    g = torch.Generator().manual_seed(1000 + SEEDS[name] * 10 + (variant == "decode"))
    cfg = CONFIGS[name]
    if name == "bert":
        ids = torch.randint(1, VOCAB, (2, SEQ), generator=g)
        mask = torch.ones(2, SEQ, dtype=torch.long)
        mask[1, SEQ - 3:] = 0          # second sequence: 3 padding tokens
        ids[1, SEQ - 3:] = cfg["pad_token_id"]
        types = torch.zeros(2, SEQ, dtype=torch.long)
        types[:, SEQ // 2:] = 1
        types[1, SEQ - 3:] = 0
        named = [("input_ids", ids), ("attention_mask", mask), ("token_type_ids", types)]
        return named, ["last_hidden_state"]
    if variant == "decode":
        bsz, past_len = 2, SEQ - 1
        head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
        kvh = cfg["num_key_value_heads"]
        named = [("input_ids", torch.randint(0, VOCAB, (bsz, 1), generator=g)),
                 ("position_ids", torch.full((bsz, 1), past_len, dtype=torch.long))]
        for i in range(cfg["num_hidden_layers"]):
            named.append((f"past_key_{i}", torch.randn(bsz, kvh, past_len, head_dim, generator=g)))
            named.append((f"past_value_{i}", torch.randn(bsz, kvh, past_len, head_dim, generator=g)))
        outs = ["logits"]
        for i in range(cfg["num_hidden_layers"]):
            outs += [f"present_key_{i}", f"present_value_{i}"]
        return named, outs
    return [("input_ids", torch.randint(0, VOCAB, (1, SEQ), generator=g))], ["logits"]


# (model, variant or None, [(opset, fold), ...])
STANDARD = [(17, True), (17, False), (13, True)]
EXPORTS = [
    ("gpt2", None, STANDARD),
    ("opt", None, STANDARD),
    ("llama", "prefill", STANDARD + [(14, True), (15, True), (16, True)]),
    ("llama", "decode", STANDARD),
    ("qwen2", None, STANDARD),
    ("bert", None, STANDARD),
]


# ---------------------------------------------------------------------------
# MAC counting
# ---------------------------------------------------------------------------

aten = torch.ops.aten
GEMM_OPS = {aten.mm: "mm", aten.addmm: "addmm", aten.bmm: "bmm", aten.matmul: "matmul", aten.baddbmm: "baddbmm"}


class MacCounter(TorchDispatchMode):
    """Counts M*K*N (times batch) over the GEMM-like aten ops of one forward pass.

    An op with an operand inside a parameter's memory is a weight GEMM ("linear");
    any other GEMM inside a module whose class name contains "Attention" is QK^T or
    PV ("attention"); the rest (Llama's rotary inv_freq @ positions) is "other"."""

    def __init__(self, model):
        super().__init__()
        self.param_ranges = [(p.data_ptr(), p.data_ptr() + p.numel() * p.element_size())
                             for p in model.parameters()]
        self.stack = []
        self.macs = Counter()
        self.hooks = []
        for m in model.modules():
            self.hooks.append(m.register_forward_pre_hook(self._enter))
            self.hooks.append(m.register_forward_hook(self._leave))

    def _enter(self, mod, inputs):
        self.stack.append(type(mod).__name__)

    def _leave(self, mod, inputs, output):
        self.stack.pop()

    def remove(self):
        for h in self.hooks:
            h.remove()

    def _is_param(self, t):
        ptr = t.data_ptr()
        return any(lo <= ptr < hi for lo, hi in self.param_ranges)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        kind = GEMM_OPS.get(func.overloadpacket)
        if kind is not None:
            a, b = (args[1], args[2]) if kind in ("addmm", "baddbmm") else (args[0], args[1])
            k = a.shape[-1]
            macs = out.numel() * k
            if self._is_param(a) or self._is_param(b):
                self.macs["linear"] += macs
            elif any("Attention" in s for s in self.stack):
                self.macs["attention"] += macs
            else:
                self.macs["other"] += macs
        return out


def count_macs(model, args):
    counter = MacCounter(model)
    try:
        with torch.no_grad(), counter:
            model(*args)
    finally:
        counter.remove()
    c = counter.macs
    return {"macs": c["linear"] + c["attention"] + c["other"], "linear_macs": c["linear"],
            "attention_macs": c["attention"], "other_macs": c["other"]}


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

def file_stem(name, variant, opset, fold):
    return f"{name}{'_' + variant if variant else ''}_op{opset}{'' if fold else '_nofold'}"


def tensor_info(name, arr):
    return {"name": name, "shape": list(arr.shape), "dtype": str(arr.dtype)}


def mask_note(name, variant, legacy):
    if legacy:
        return "transformers <= 4.37 style: masked_fill(arange < arange+1) (opset < 14 has no Trilu)"
    if name == "llama" and variant == "decode":
        return "full(finfo.min) *= arange > cache_position (one query row: no triu), expanded"
    return CAUSAL_MASK[name]


def unresolved_shapes(model_proto):
    """How many values ONNX shape inference (default options, as the C++ importer runs it)
    leaves without a fully static shape: those behind Expand's computed shape operand."""
    inferred = onnx.shape_inference.infer_shapes(model_proto, strict_mode=True)
    values = list(inferred.graph.value_info) + list(inferred.graph.output)
    return sum(1 for v in values if not v.type.tensor_type.HasField("shape")
               or any(not d.HasField("dim_value") for d in v.type.tensor_type.shape.dim))


def op_counts(model_proto):
    return dict(sorted(Counter(n.op_type for n in model_proto.graph.node).items()))


def export_all(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    manifest = {"generator": "scripts/export_onnx.py", "torch": torch.__version__, "onnx": onnx.__version__,
                "numpy": np.__version__, "files": []}
    total = 0
    for name, variant, exports in EXPORTS:
        model = build(name)
        named, out_names = make_inputs(name, variant)
        in_names = [n for n, _ in named]
        args = tuple(t for _, t in named)
        with torch.no_grad():
            outs = model(*args)
        outs = outs if isinstance(outs, tuple) else (outs,)
        arrays_in = {n: t.numpy() for n, t in named}
        arrays_out = {n: t.detach().numpy().copy() for n, t in zip(out_names, outs)}
        params = sum(p.numel() for p in model.parameters())
        macs = count_macs(model, args)
        for opset, fold in exports:
            stem = file_stem(name, variant, opset, fold)
            legacy = hasattr(model, "legacy_causal_mask") and opset < 14
            if hasattr(model, "legacy_causal_mask"):
                model.legacy_causal_mask = legacy
                if legacy:
                    with torch.no_grad():
                        alt = model(*args)
                    alt = alt if isinstance(alt, tuple) else (alt,)
                    if not all(torch.equal(a, b) for a, b in zip(alt, outs)):
                        raise RuntimeError(f"{stem}: the legacy causal mask changes the outputs")
            path = os.path.join(out_dir, stem + ".onnx")
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, args, path, opset_version=opset, do_constant_folding=fold,
                                  input_names=in_names, output_names=out_names,
                                  training=torch.onnx.TrainingMode.EVAL)
            proto = onnx.load(path)
            onnx.checker.check_model(proto)
            graph_in = [i.name for i in proto.graph.input]
            graph_out = [o.name for o in proto.graph.output]
            if graph_in != in_names or graph_out != out_names:
                raise RuntimeError(f"{stem}: graph names {graph_in} -> {graph_out}, expected {in_names} -> {out_names}")
            npy = {}
            for n, arr in list(arrays_in.items()) + list(arrays_out.items()):
                fname = f"{stem}.{n}.npy"
                np.save(os.path.join(out_dir, fname), arr)
                npy[n] = fname
            size = os.path.getsize(path)
            total += size
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            manifest["files"].append({
                "file": stem + ".onnx", "model": name, "variant": variant or "default", "opset": opset,
                "constant_folding": fold, "size_bytes": size, "sha256": digest,
                "inputs": [tensor_info(n, arrays_in[n]) for n in in_names],
                "outputs": [tensor_info(n, arrays_out[n]) for n in out_names],
                "npy": npy, "parameters": params, **macs,
                "nodes": len(proto.graph.node), "initializers": len(proto.graph.initializer),
                "op_types": op_counts(proto), "config": CONFIGS[name],
                "causal_mask": mask_note(name, variant, legacy),
                "values_without_static_shape": unresolved_shapes(proto),
            })
            print(f"{stem + '.onnx':34s} {size / 1024:7.1f} KB  params {params:6d}  macs {macs['macs']:8d} "
                  f"(linear {macs['linear_macs']}, attention {macs['attention_macs']}, other {macs['other_macs']})"
                  f"  nodes {len(proto.graph.node)}")
    text = json.dumps(manifest, indent=1)
    # Keep shapes on one line: [\n  2,\n  8\n ] -> [2, 8]
    text = re.sub(r"\[\s+([-\d.e]+(?:,\s+[-\d.e]+)*)\s+\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        f.write(text + "\n")
    print(f"{len(manifest['files'])} files, {total / 1024:.1f} KB of .onnx in {out_dir}")


# ---------------------------------------------------------------------------
# Check: a tiny numpy interpreter for the ops these exports use
# ---------------------------------------------------------------------------

def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _axes(node, inputs, at, attrs):
    if len(inputs) > at and inputs[at] is not None:
        return [int(a) for a in inputs[at]]
    return attrs.get("axes")


def _slice(x, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else list(axes)
    steps = [1] * len(starts) if steps is None else list(steps)
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        idx[int(a)] = slice(int(s), int(max(min(e, 2 ** 62), -(2 ** 62))), int(st))
    return x[tuple(idx)]


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def _layernorm(x, scale, bias=None, axis=-1, epsilon=1e-5, **_):
    axes = tuple(range(axis if axis >= 0 else x.ndim + axis, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + epsilon) * scale
    return y + bias if bias is not None else y


def run_numpy(model_proto, feeds):
    env = {i.name: numpy_helper.to_array(i) for i in model_proto.graph.initializer}
    env.update(feeds)
    env[""] = None
    for node in model_proto.graph.node:
        x = [env[n] if n else None for n in node.input]
        at = _attrs(node)
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(at["value"])
        elif op == "Identity":
            y = x[0]
        elif op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater", "And", "Or", "Max", "Min"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power, "Equal": np.equal,
                 "Less": np.less, "Greater": np.greater, "And": np.logical_and, "Or": np.logical_or,
                 "Max": np.maximum, "Min": np.minimum}.get(op)
            if op == "Div":
                y = x[0] // x[1] if np.issubdtype(x[0].dtype, np.integer) else x[0] / x[1]
            else:
                y = f(x[0], x[1])
            if op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"):
                y = np.asarray(y).astype(x[0].dtype)
        elif op in ("Neg", "Sqrt", "Reciprocal", "Tanh", "Exp", "Cos", "Sin", "Not", "Relu", "Sigmoid", "Erf"):
            f = {"Neg": np.negative, "Sqrt": np.sqrt, "Reciprocal": np.reciprocal, "Tanh": np.tanh,
                 "Exp": np.exp, "Cos": np.cos, "Sin": np.sin, "Not": np.logical_not,
                 "Relu": lambda v: np.maximum(v, 0).astype(v.dtype),
                 "Sigmoid": lambda v: (1.0 / (1.0 + np.exp(-v))).astype(v.dtype), "Erf": _erf}[op]
            y = f(x[0])
        elif op == "Where":
            y = np.where(x[0], x[1], x[2])
        elif op == "Cast":
            y = x[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[at["to"]])
        elif op == "MatMul":
            y = np.matmul(x[0], x[1])
        elif op == "Gemm":
            a = x[0].T if at.get("transA") else x[0]
            b = x[1].T if at.get("transB") else x[1]
            y = at.get("alpha", 1.0) * (a @ b)
            if len(x) > 2 and x[2] is not None:
                y = y + at.get("beta", 1.0) * x[2]
            y = y.astype(x[0].dtype)
        elif op == "Softmax":
            ax = at.get("axis", -1)
            e = np.exp(x[0] - x[0].max(axis=ax, keepdims=True))
            y = e / e.sum(axis=ax, keepdims=True)
        elif op == "ReduceMean":
            y = x[0].mean(axis=tuple(_axes(node, x, 1, at)), keepdims=bool(at.get("keepdims", 1)))
        elif op == "LayerNormalization":
            y = _layernorm(x[0], x[1], x[2] if len(x) > 2 else None, **at)
        elif op == "Shape":
            y = np.array(x[0].shape, dtype=np.int64)
        elif op == "Size":
            y = np.array(x[0].size, dtype=np.int64)
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=at.get("axis", 0))
        elif op == "Unsqueeze":
            y = x[0]
            axes = sorted(a % (x[0].ndim + len(_axes(node, x, 1, at))) for a in _axes(node, x, 1, at))
            for a in axes:
                y = np.expand_dims(y, a)
        elif op == "Squeeze":
            axes = _axes(node, x, 1, at)
            y = np.squeeze(x[0], axis=tuple(axes) if axes is not None else None)
        elif op == "Reshape":
            shape = [d if d != 0 else x[0].shape[i] for i, d in enumerate(x[1])]
            y = x[0].reshape(shape)
        elif op == "Transpose":
            y = np.transpose(x[0], at.get("perm"))
        elif op == "Concat":
            y = np.concatenate(x, axis=at["axis"])
        elif op == "Split":
            parts = x[1] if len(x) > 1 and x[1] is not None else at.get("split")
            ax = at.get("axis", 0)
            if parts is None:
                y = np.split(x[0], len(node.output), axis=ax)
            else:
                y = np.split(x[0], np.cumsum(parts)[:-1], axis=ax)
        elif op == "Slice":
            y = _slice(x[0], x[1], x[2], x[3] if len(x) > 3 else None, x[4] if len(x) > 4 else None)
        elif op == "Expand":
            y = x[0] * np.ones(x[1], dtype=x[0].dtype)
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
            y = np.full(x[0], v.reshape(()), dtype=v.dtype)
        elif op == "Range":
            y = np.arange(x[0], x[1], x[2]).astype(x[0].dtype)
        elif op == "CumSum":
            y = np.cumsum(x[0], axis=int(x[1])).astype(x[0].dtype)
        elif op == "Trilu":
            k = int(x[1]) if len(x) > 1 and x[1] is not None else 0
            y = np.triu(x[0], k) if at.get("upper", 1) else np.tril(x[0], k)
        else:
            raise NotImplementedError(f"numpy check: no op {op}")
        outs = y if isinstance(y, list) else [y]
        for n, v in zip(node.output, outs):
            env[n] = np.asarray(v)
    return [env[o.name] for o in model_proto.graph.output]


def check_all(out_dir):
    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    worst = 0.0
    for entry in manifest["files"]:
        proto = onnx.load(os.path.join(out_dir, entry["file"]))
        onnx.checker.check_model(proto)
        arrays = {}
        for info in entry["inputs"] + entry["outputs"]:
            arr = np.load(os.path.join(out_dir, entry["npy"][info["name"]]))
            if list(arr.shape) != info["shape"] or str(arr.dtype) != info["dtype"]:
                raise RuntimeError(f"{entry['file']}: {info['name']} is {arr.shape} {arr.dtype}, manifest {info}")
            arrays[info["name"]] = arr
        if [i.name for i in proto.graph.input] != [i["name"] for i in entry["inputs"]]:
            raise RuntimeError(f"{entry['file']}: graph inputs differ from the manifest")
        got = run_numpy(proto, {i["name"]: arrays[i["name"]] for i in entry["inputs"]})
        errs = []
        for info, y in zip(entry["outputs"], got):
            ref = arrays[info["name"]]
            if y.shape != ref.shape:
                raise RuntimeError(f"{entry['file']}: {info['name']} evaluates to {y.shape}, saved {ref.shape}")
            err = float(np.max(np.abs(y.astype(np.float64) - ref)) / max(1.0, float(np.max(np.abs(ref)))))
            errs.append(err)
            worst = max(worst, err)
        print(f"{entry['file']:34s} ok  numpy-vs-torch max rel err {max(errs):.2e}")
        if max(errs) > 1e-4:
            raise RuntimeError(f"{entry['file']}: ONNX graph (numpy) and PyTorch outputs differ by {max(errs)}")
    print(f"{len(manifest['files'])} files checked, worst relative error {worst:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.normpath(DEFAULT_OUT), help="output directory (default tests/onnx/torch)")
    ap.add_argument("--check", action="store_true", help="only check an existing directory against its manifest")
    opts = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if not opts.check:
        export_all(opts.out)
    check_all(opts.out)


if __name__ == "__main__":
    sys.exit(main())
