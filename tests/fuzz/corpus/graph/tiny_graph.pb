
tiny x1 decode b1 L128
input€ 0€!
layers.0.k_cache€@ 0€€!
layers.0.v_cache€@ 0€€ 
layers.0.attn_norm€ 0€(
layers.0.attn_norm.weight€ (0€
layers.0.q_proj€ 0€(
layers.0.q_proj.weight€€ (0€€
layers.0.k_proj€ 0€(
layers.0.k_proj.weight€€ (0€€
layers.0.v_proj€ 0€(
layers.0.v_proj.weight€€ (0€€
layers.0.q_rot€ 0€
layers.0.k_rot€ 0€
layers.0.scores€ 0€
layers.0.probs€ 0€
layers.0.context€ 0€
layers.0.o_proj€ 0€(
layers.0.o_proj.weight€€ (0€€ 
layers.0.residual1€ 0€
layers.0.mlp_norm€ 0€'
layers.0.mlp_norm.weight€ (0€ 
layers.0.gate_proj° 0à
+
layers.0.gate_proj.weight€° (0€À
layers.0.up_proj° 0à
)
layers.0.up_proj.weight€° (0€À
layers.0.swiglu° 0à
 
layers.0.down_proj€ 0€+
layers.0.down_proj.weight°€ (0€À
layers.0.out€ 0€L
layers.0.attn_norminputlayers.0.attn_norm.weight"layers.0.attn_normP
layers.0.q_projlayers.0.attn_normlayers.0.q_proj.weight"layers.0.q_projP
layers.0.k_projlayers.0.attn_normlayers.0.k_proj.weight"layers.0.k_projP
layers.0.v_projlayers.0.attn_normlayers.0.v_proj.weight"layers.0.v_projD
layers.0.q_ropelayers.0.q_proj"layers.0.q_rot*
head_dim@D
layers.0.k_ropelayers.0.k_proj"layers.0.k_rot*
head_dim@g
layers.0.k_appendlayers.0.k_rotlayers.0.k_cache"layers.0.k_cache*
position*
tokensh
layers.0.v_appendlayers.0.v_projlayers.0.v_cache"layers.0.v_cache*
position*
tokense
layers.0.attn_scorelayers.0.q_rotlayers.0.k_cache"layers.0.scores*
heads*
tokens5
layers.0.softmaxlayers.0.scores"layers.0.probsh
layers.0.attn_contextlayers.0.probslayers.0.v_cache"layers.0.context*
heads*
tokensN
layers.0.o_projlayers.0.contextlayers.0.o_proj.weight"layers.0.o_projB
layers.0.residual1inputlayers.0.o_proj"layers.0.residual1V
layers.0.mlp_normlayers.0.residual1layers.0.mlp_norm.weight"layers.0.mlp_normX
layers.0.gate_projlayers.0.mlp_normlayers.0.gate_proj.weight"layers.0.gate_projR
layers.0.up_projlayers.0.mlp_normlayers.0.up_proj.weight"layers.0.up_projJ
layers.0.swiglu
layers.0.gate_projlayers.0.up_proj"layers.0.swigluV
layers.0.down_projlayers.0.swiglulayers.0.down_proj.weight"layers.0.down_projL
layers.0.residual2layers.0.residual1layers.0.down_proj"layers.0.out