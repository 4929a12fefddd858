def class_weights(labels, num_classes):
    """{class: n / (num_classes * n_class)} for the integer labels of a training set."""
    # TODO: count the examples of each class (np.bincount with minlength) and return the dict of weights.
    one_hot = np.eye(num_classes)[np.asarray(labels, dtype=int)]
    per_class = one_hot.sum(axis=0)
    scale = one_hot.shape[0] / num_classes
    return dict(enumerate((scale / per_class).tolist()))
