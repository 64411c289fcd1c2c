"""audiogan_jax: GAAE, GGAN, BigGAN, WaveGAN, SpecGAN and GANSynth in JAX."""

from setuptools import find_packages, setup

setup(
    name="audiogan_jax",
    version="0.1.0",
    description=("Audio GANs (GAAE, GGAN, BigGAN spectrogram baselines, ...) "
                 "in JAX/Flax, data-parallel on GPUs and TPUs."),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["audiogan_jax", "audiogan_jax.*"]),
    install_requires=[
        "jax>=0.10", "jaxlib>=0.10", "flax>=0.12", "optax>=0.2.8",
        "orbax-checkpoint>=0.12", "chex>=0.1.90", "ml_collections>=1.0",
        "numpy>=2.0", "scipy>=1.10", "scikit-learn>=1.3", "tensorflow-cpu>=2.20", "tensorboard>=2.20", "tensorflow-datasets>=4.9.8",
        "importlib_resources", "librosa>=0.11", "numba>=0.60",
        "soundfile>=0.13", "absl-py>=2.0",
    ],
    extras_require={"test": ["pytest>=8", "pytest-xdist>=3.5"]},
    entry_points={"console_scripts": [
        "audiogan-train=audiogan_jax.cli.train:run",
        "audiogan-info=audiogan_jax.cli.info:run",
        "audiogan-export=audiogan_jax.cli.export:run",
        "audiogan-generate=audiogan_jax.cli.generate:run",
        "audiogan-encode=audiogan_jax.cli.encode:run",
        "audiogan-eval=audiogan_jax.cli.eval:run",
        "audiogan-bench=audiogan_jax.cli.bench:run",
    ]},
)
