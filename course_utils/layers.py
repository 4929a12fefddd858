"""Keras layers for the labs, registered so that saved models reload with ``keras.models.load_model``."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_utils")
class AttentionPooling(keras.layers.Layer):
    """Turns a sequence (batch, time, features) into one vector (batch, features) by attention.

    Each step t gets a score ``s_t = v . tanh(h_t W + b)``; the weights ``a = softmax(s)``
    are taken over the unmasked steps only, and the output is ``sum_t a_t h_t``. Weights,
    in creation order: ``kernel`` W (features, units), ``bias`` b (units,), ``score_vector`` v (units,).

    Args:
        units: size of the hidden layer that scores the steps.
    """

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True  # receives the mask; compute_mask ends it here

    def build(self, input_shape):
        features = input_shape[-1]
        self.kernel = self.add_weight(shape=(features, self.units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.score_vector = self.add_weight(shape=(self.units,), initializer="glorot_uniform", name="score_vector")

    def attention_weights(self, inputs, mask=None):
        """The weights a_t, shape (batch, time): zero on masked steps, summing to 1 over the others."""
        scores = ops.tensordot(ops.tanh(ops.matmul(inputs, self.kernel) + self.bias), self.score_vector, axes=1)
        if mask is not None:
            # A large negative score rather than -inf: a row with every step masked gets uniform weights, not NaN.
            scores = ops.where(mask, scores, ops.cast(-1e9, scores.dtype))
        return ops.softmax(scores, axis=-1)

    def call(self, inputs, mask=None):
        weights = self.attention_weights(inputs, mask)
        return ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None  # one vector per sequence: nothing left to mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def load_model(path):
    """Loads a model saved by a lab, e.g. Lab 3's ``model.keras`` (raw tweets in, class probabilities out)."""
    import course_utils.text  # noqa: F401  registers standardize_tweet, which the saved TextVectorization names

    return keras.models.load_model(path)
