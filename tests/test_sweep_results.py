"""A sweep's results: the table, the Pareto front and the heat maps."""
from landinglib import sweep_results


def test_table_and_pareto_front_rank_by_validation_and_latency():
    rows = [{"trial": 0, "state": "COMPLETE", "arch": "fast", "lr": 1e-3, "batch_size": 4, "val_miou": 0.5,
             "test_miou": 0.4, "unseen_miou": 0.3, "minutes": 1.0, "latency_ms": 4.0},
            {"trial": 1, "state": "COMPLETE", "arch": "ultra-fast", "lr": 1e-3, "batch_size": 4, "val_miou": 0.6,
             "test_miou": 0.5, "unseen_miou": 0.4, "minutes": 1.0, "latency_ms": 15.0},
            {"trial": 2, "state": "COMPLETE", "arch": "ultra-fast", "lr": 1e-4, "batch_size": 8, "val_miou": 0.45,
             "test_miou": 0.4, "unseen_miou": 0.3, "minutes": 1.0, "latency_ms": 16.0},
            {"trial": 3, "state": "PRUNED", "arch": "fast", "lr": 1e-4, "batch_size": 8, "val_miou": 0.2,
             "test_miou": None, "unseen_miou": None, "minutes": None, "latency_ms": None}]
    assert [r["trial"] for r in sweep_results.pareto_front(rows)] == [0, 1]  # 2 is slower and worse than 1
    table = sweep_results.sweep_table(rows)
    assert [row[0] for row in table.rows] == ["1", "0", "2", "3"] and "pruned" in table
    fig = sweep_results.plot_sweep(rows)
    assert len(fig.axes) >= 3  # accuracy against speed, then one heat map per architecture


def test_heat_map_labels_are_dark_on_light_cells_and_light_on_dark_ones():
    assert sweep_results.text_color((1.0, 1.0, 0.9)) == "black" and sweep_results.text_color((0.27, 0.0, 0.33, 1.0)) == "white"
    rows = [{"trial": k, "state": "COMPLETE", "arch": "fast", "lr": lr, "batch_size": b, "val_miou": v,
             "test_miou": v, "unseen_miou": v, "minutes": 1.0, "latency_ms": 4.0 + k}
            for k, (lr, b, v) in enumerate([(1e-3, 4, 0.10), (1e-3, 8, 0.20), (1e-4, 4, 0.40)])]
    rows.append({"trial": 3, "state": "PRUNED", "arch": "fast", "lr": 1e-4, "batch_size": 8, "val_miou": 0.1,
                 "test_miou": None, "unseen_miou": None, "minutes": None, "latency_ms": None})
    fig = sweep_results.plot_sweep(rows)
    colours = {t.get_text(): t.get_color() for t in fig.axes[1].texts}
    # viridis: the lowest score is dark purple (white text), the highest yellow (black), pruned light grey (black);
    # a score just below the mean of its grid used to get black text on a dark cell
    assert colours == {"0.100": "white", "0.200": "white", "0.400": "black", "pruned": "black"}
    import matplotlib.pyplot as plt
    plt.close(fig)
