"""Reference solution of Problem 4: GD from random starts with α = 0.01, 0.3 and 4."""

import matplotlib.pyplot as plt
import numpy as np


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


def gd(x, alpha, iterations):
    """Runs GD from x and returns the final iterate."""
    for _ in range(iterations):
        x = x - alpha * fprime(x)
    return x


def classify(x):
    if not np.isfinite(x) or abs(x) > 1e3:
        return "diverged"
    if abs(x) < 0.5:
        return "sharp"
    if abs(x - 10) < 0.5:
        return "wide"
    return "not converged"


if __name__ == "__main__":
    np.seterr(all="ignore")
    rng = np.random.default_rng(0)
    for alpha in (0.01, 0.3, 4):
        finals = [gd(rng.uniform(-5, 20), alpha, 1000) for _ in range(20)]
        counts = {}
        for x in finals:
            counts[classify(x)] = counts.get(classify(x), 0) + 1
        print(f"alpha = {alpha}: {counts}")
    xs = np.linspace(-5, 20, 500)
    plt.plot(xs, f(xs))
    plt.title("f")
    plt.show()
