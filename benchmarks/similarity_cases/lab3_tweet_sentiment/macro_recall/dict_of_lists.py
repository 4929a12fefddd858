def macro_recall(y_true, y_pred, num_classes=3):
    """Mean over the classes present in y_true of the share of their examples predicted correctly."""
    # TODO: for each class c that occurs in y_true, recall_c = mean(y_pred[y_true == c] == c); return their mean as a float.
    by_class = {}
    for truth, prediction in zip(list(y_true), list(y_pred)):
        by_class.setdefault(int(truth), []).append(int(prediction) == int(truth))
    recalls = [np.mean(outcomes) for outcomes in by_class.values()]
    return float(np.mean(recalls))
