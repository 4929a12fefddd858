def macro_recall(y_true, y_pred, num_classes=3):
    """Mean over the classes present in y_true of the share of their examples predicted correctly."""
    # TODO: for each class c that occurs in y_true, recall_c = mean(y_pred[y_true == c] == c); return their mean as a float.
    hits = [0] * num_classes
    totals = [0] * num_classes
    for t, p in zip(y_true, y_pred):
        totals[int(t)] += 1
        if int(t) == int(p):
            hits[int(t)] += 1
    per_class = [h / n for h, n in zip(hits, totals) if n > 0]
    return float(sum(per_class) / len(per_class))
