"""Installs the MovieLens ranking TFX pipeline (pipeline, components, model)."""

import setuptools

setuptools.setup(
    name='movielens-ranking-tfx',
    version='0.1.0',
    description='TFX pipeline that trains and serves the TFRS MovieLens '
    'ranking model',
    packages=['pipeline', 'components', 'trainer_module'],
    package_data={'pipeline': ['schema/*.pbtxt']},
    python_requires='>=3.9,<3.12',
    install_requires=[
        'tfx==1.16.0',
        'tensorflow==2.16.2',
        'tf-keras==2.16.0',
        'tensorflow-recommenders==0.7.7',
        'tensorflow-datasets==4.9.8',
        'apache-beam[gcp]==2.61.0',
        'protobuf==4.25.5',
        'pyarrow==10.0.1',
        'numpy<2',
        'keras-tuner==1.4.8',  # the Tuner (trainer_module/tuner.py)
    ],
    extras_require={'test': ['pytest']},
)
