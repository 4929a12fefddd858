def class_weights(labels, num_classes):
    """{class: n / (num_classes * n_class)} for the integer labels of a training set."""
    # TODO: count the examples of each class (np.bincount with minlength) and return the dict of weights.
    n = len(labels)
    per_class = np.bincount(labels, minlength=num_classes)
    weights = {}
    for c in range(num_classes):
        weights[c] = n / (num_classes * per_class[c])
    return weights
