import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


# Heavy-ball momentum instead of plain GD.
rng = np.random.default_rng(7)
beta = 0.9
for lr in (0.01, 0.3, 4):
    for trial in range(20):
        x, v = rng.uniform(-5, 20), 0.0
        for it in range(1000):
            v = beta * v - lr * fprime(x)
            x = x + v
        print(f"lr={lr} start {trial}: x = {x:.4f}")
