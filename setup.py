"""Installs the MovieLens ranking TFX pipeline (pipeline, components, model)."""

import setuptools

setuptools.setup(
    name='movielens-ranking-tfx',
    version='0.1.0',
    description='TFX pipeline that trains and serves the TFRS MovieLens '
    'ranking model',
    packages=['pipeline', 'components', 'trainer_module'],
    package_data={'pipeline': ['schema/*.pbtxt']},
    # Two stacks (requirements/): TFX 1.16 on Python 3.11 (glibc < 2.39) and
    # TFX 1.21 on Python 3.10-3.13 (glibc >= 2.39); `make setup` picks one.
    python_requires='>=3.10,<3.14',
    install_requires=[
        'tfx>=1.16,<1.22',
        'tensorflow>=2.16,<2.22',
        'tf-keras>=2.16,<2.22',
        'tensorflow-recommenders==0.7.7',
        'tensorflow-datasets>=4.9.8',
        'apache-beam[gcp]>=2.61',
        'protobuf>=4.25,<7',
        'pyarrow>=10',
        'numpy',
        'keras-tuner>=1.4.8',  # the Tuner (trainer_module/tuner.py)
    ],
    extras_require={'test': ['pytest']},
)
