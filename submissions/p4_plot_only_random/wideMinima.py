import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)

import random


def run(start, lr, loop):
    path = [[start, f(start)]]
    x = start
    for _ in range(loop):
        x = x - lr * fprime(x)
        path.append([x, f(x)])
    return path


random.seed(7)
xs = np.linspace(-5, 20, 300)
for lr in (0.01, 0.3, 4):
    plt.figure()
    plt.plot(xs, f(xs))
    for _ in range(8):
        path = np.array(run(random.uniform(-5, 20), lr, 800))
        plt.plot(path[:, 0], path[:, 1], "o-", markersize=2)
    plt.title(f"lr = {lr}")
    plt.ylim(-10, 300)
    plt.show()
