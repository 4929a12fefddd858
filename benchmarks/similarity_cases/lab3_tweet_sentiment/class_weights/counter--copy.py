def class_weights(labels, num_classes):
    """{class: n / (num_classes * n_class)} for the integer labels of a training set."""
    # TODO: count the examples of each class (np.bincount with minlength) and return the dict of weights.
    from collections import Counter

    # how many of each class
    tally = Counter(int(y) for y in labels)
    n = sum(tally.values())
    result = {}
    for k in range(num_classes):
        result[k] = n / (num_classes * tally[k])
    return result
