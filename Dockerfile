# Pipeline image for Kubeflow Pipelines v2 / Vertex AI Pipelines.
# The official TFX 1.16.0 image already has TFX, TensorFlow 2.16, TFT, TFMA,
# TFDV and Beam; this adds TFRS, TFDS and this package.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/movielens-ranking:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/movielens-ranking:TAG
FROM gcr.io/tfx-oss-public/tfx:1.16.0

# TFRS 0.7.7, TFT and TFMA need Keras 2 in every process of the container.
ENV TF_USE_LEGACY_KERAS=1

WORKDIR /pipeline
RUN pip install --no-cache-dir \
      tensorflow-recommenders==0.7.7 \
      tensorflow-datasets==4.9.8 \
      tf-keras==2.16.0
COPY setup.py README.md ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY trainer_module/ trainer_module/
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import pipeline.pipeline, trainer_module.trainer, trainer_module.tuner"
