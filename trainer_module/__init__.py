"""User code run by the Transform and Trainer components (the "module file").

Importing this package, or any of this project's packages (each imports this
one first), sets what TensorFlow must see before its first import in every
process that runs our code: the one place that says so.
"""

import os

# TFRS 0.7.7, TFT and TFMA need Keras 2 (tf_keras).
os.environ['TF_USE_LEGACY_KERAS'] = '1'
# Hide TensorFlow's C++ info and warning lines unless asked for.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
