"""PyTorch reference definitions of tickinfer's models (test oracles only).

The C engine (src/model/) must reproduce these exactly; tests dump inputs, outputs,
activations and gradients from here and compare.  State-dict key names are the names
the C checkpoints use (safetensors), so a state dict can be converted 1:1.

TinyRV: the seed's TinyRVTransformer (weights and source: tests/model/data/seed_rv_tiny/README.md):
  x [B, T, F] -> proj Linear(F, d) -> prepend cls [1,1,d] -> + pos [1, T+1, d]
  -> L x TransformerEncoderLayer(d, H, d_ff, relu, norm_first=True, batch_first=True)
  -> head = LayerNorm(d), Linear(d, 1) on the CLS position -> y_log [B]
RVCausal: the streaming model:
  x [B, T, F] -> proj Linear(F, d) -> L x pre-norm causal blocks:
      h = h + out_proj(Attn_causal_alibi(LN1(h)));  h = h + lin2(gelu_tanh(lin1(LN2(h))))
  -> head = LayerNorm(d), Linear(d, 1) at every position -> y_log [B, T]
  Attention: qkv = in_proj(LN1(h)) ([3d, d] weight: Wq, Wk, Wv stacked), H heads of
  hd = d / H, scores q.k / sqrt(hd) + alibi, causal mask, softmax, @ v.
  ALiBi slopes for H heads: m_h = 2^(-8 (h+1) / H), h = 0..H-1; bias m_h * (j - i) for
  key j <= query i (0 on the diagonal, more negative for older keys), so a sliding window
  needs no recompute.  LayerNorm eps 1e-5.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyRV(nn.Module):
    def __init__(self, n_features=14, seq_len=600, d_model=128, n_heads=4, n_layers=3, d_ff=256, dropout=0.0):
        super().__init__()
        self.proj = nn.Linear(n_features, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos = nn.Parameter(torch.zeros(1, seq_len + 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=dropout, activation="relu",
                                           batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 1))

    def forward(self, x):
        h = self.proj(x)
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), h], dim=1) + self.pos
        h = self.enc(h)
        return self.head(h[:, 0]).squeeze(-1)


def alibi_slopes(n_heads):
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


class CausalBlock(nn.Module):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.n_heads = n_heads
        self.norm1 = nn.LayerNorm(d_model)
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, h, bias):
        B, T, C = h.shape
        H = self.n_heads
        q, k, v = self.in_proj(self.norm1(h)).split(C, dim=-1)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H) + bias[:, :T, :T]
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        h = h + self.out_proj(y)
        return h + self.linear2(F.gelu(self.linear1(self.norm2(h)), approximate="tanh"))


class RVCausal(nn.Module):
    def __init__(self, n_features=12, d_model=64, n_heads=4, n_layers=2, d_ff=128, max_len=4096):
        super().__init__()
        self.n_heads = n_heads
        self.proj = nn.Linear(n_features, d_model)
        self.layers = nn.ModuleList([CausalBlock(d_model, n_heads, d_ff) for _ in range(n_layers)])
        self.head = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 1))
        self.max_len = max_len

    def alibi_bias(self, T):
        i = torch.arange(T).view(T, 1)
        j = torch.arange(T).view(1, T)
        rel = (j - i).float()  # <= 0 for past keys
        bias = alibi_slopes(self.n_heads).view(-1, 1, 1) * rel
        return bias.masked_fill(j > i, float("-inf"))

    def forward(self, x):
        T = x.shape[1]
        bias = self.alibi_bias(T)
        h = self.proj(x)
        for blk in self.layers:
            h = blk(h, bias)
        return self.head(h).squeeze(-1)
