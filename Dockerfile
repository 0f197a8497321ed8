# Pipeline image for Kubeflow Pipelines v2 / Vertex AI Pipelines, on either
# stack (README: "Environment"): the official TFX image already has TFX,
# TensorFlow, TFT, TFMA, TFDV and Beam; this adds TFRS, TFDS, Keras 2 and
# this package, at the versions of the stack's lock (requirements/).
#   docker build -t IMAGE .                               # TFX 1.16
#   docker build --build-arg TFX_VERSION=1.21.0 -t IMAGE .  # TFX 1.21
#   docker push IMAGE
ARG TFX_VERSION=1.16.0
FROM gcr.io/tfx-oss-public/tfx:${TFX_VERSION}
ARG TFX_VERSION

# TFRS 0.7.7, TFT and TFMA need Keras 2 in every process of the container.
ENV TF_USE_LEGACY_KERAS=1

WORKDIR /pipeline
COPY requirements/ requirements/
# TF 2.21 no longer brings TensorBoard; the Trainer writes its logs.
RUN STACK="tfx-${TFX_VERSION%.*}" \
 && pip install --no-cache-dir -c "requirements/${STACK}.txt" \
      tensorflow-recommenders tensorflow-datasets tf-keras \
      $([ "$STACK" = tfx-1.21 ] && echo tensorboard)
COPY setup.py README.md ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY trainer_module/ trainer_module/
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import pipeline.pipeline, trainer_module.trainer, trainer_module.tuner"
