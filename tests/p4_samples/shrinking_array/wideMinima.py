import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.random.seed(11)
for alpha in (0.01, 0.3, 4):
    x = np.random.uniform(-5, 20, 50)
    n0 = len(x)
    for k in range(1000):
        x = x - alpha * fprime(x)
        x = x[np.abs(x) < 1e6]   # drop the runs that blew up
    print(alpha, "diverged:", n0 - len(x), "sharp:", np.sum(np.abs(x) < .5), "wide:", np.sum(np.abs(x - 10) < .5))
