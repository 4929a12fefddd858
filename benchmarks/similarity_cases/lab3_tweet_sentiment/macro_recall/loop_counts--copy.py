def macro_recall(y_true, y_pred, num_classes=3):
    """Mean over the classes present in y_true of the share of their examples predicted correctly."""
    # TODO: for each class c that occurs in y_true, recall_c = mean(y_pred[y_true == c] == c); return their mean as a float.
    correct = [0] * num_classes  # right answers per class
    seen = [0] * num_classes  # examples per class
    for label, guess in zip(y_true, y_pred):
        seen[int(label)] += 1
        if int(label) == int(guess):
            correct[int(label)] += 1
    recalls = [c / s for c, s in zip(correct, seen) if s > 0]
    mean_recall = sum(recalls) / len(recalls)
    return float(mean_recall)
