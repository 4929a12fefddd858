def class_weights(labels, num_classes):
    """{class: n / (num_classes * n_class)} for the integer labels of a training set."""
    # TODO: count the examples of each class (np.bincount with minlength) and return the dict of weights.
    n = len(labels)
    result = {}
    for c in range(num_classes):
        n_c = sum(1 for y in labels if y == c)
        result[c] = n / (num_classes * n_c)
    return result
