
layer
tabled€ (
x€€€€€ 
gain€ (
n€ 
wq€€ (
q€ 
qr€ 
wk€@ (
k@ 
k_cache  
v_cache  
scores 
probs 
ctx€ 
h€ 
h2@ Bh
rows€ 
part@ 
catÀ 
act@ 
sum€ 
embedtable"x*

seed
normxgain"n
q_projnwq"q
ropeq"qr*
head_dim 
k_projnwk"k1
k_appendkk_cache"k_cache*
position+
scoreqrk_cache"scores*
heads
softmaxscores"probs-
contextprobsv_cache"ctx*
heads
residualxctx"h 
gatherh"rows*
rows1#
slicerows"part*
offset@
concatrowspart"cat!
tanhh2"act*
kindTANH&
scatterrowsh"sum*
rows0