# Sourced by launch/bench_all.sh and launch/device_bench.sh: the "small"
# size of every config, the same code at CPU-sized widths and batches.
small_spec="--config.model.ch=1 --config.model.attention=False --config.train.batch_size=8"
small_wave="--config.model.d=8 --config.train.batch_size=16"
small_gansynth="--config.model.channels=(16,16,16,16,8,4,2) --config.data.synthetic.num_train=64"
declare -A small=(
  [biggan_unsup]="$small_spec" [biggan_sup]="$small_spec"
  [gaae]="$small_spec --config.model.d_ch=2" [gaae_guidance]="$small_spec --config.model.d_ch=2"
  [ggan]="$small_spec --config.model.d_ch=2"
  [wavegan]="$small_wave" [wavegan_long]="$small_wave" [specgan]="$small_wave"
  [cwavegan_concat]="$small_wave" [cwavegan_acgan]="$small_wave"
  [gansynth]="$small_gansynth")
