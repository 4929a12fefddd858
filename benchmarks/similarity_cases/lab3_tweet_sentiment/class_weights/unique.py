def class_weights(labels, num_classes):
    """{class: n / (num_classes * n_class)} for the integer labels of a training set."""
    # TODO: count the examples of each class (np.bincount with minlength) and return the dict of weights.
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    n = np.asarray(labels).size
    return {int(v): n / (num_classes * k) for v, k in zip(values, counts)}
