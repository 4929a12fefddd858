def class_weights(labels, num_classes):
    """{class: n / (num_classes * n_class)} for the integer labels of a training set."""
    # TODO: count the examples of each class (np.bincount with minlength) and return the dict of weights.
    from collections import Counter

    counts = Counter(int(label) for label in labels)
    total = sum(counts.values())
    weights = {}
    for c in range(num_classes):
        weights[c] = total / (num_classes * counts[c])
    return weights
