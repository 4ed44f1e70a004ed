import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


def gradient_descent(start, lr, n_epochs):
    x = start
    epoch = 0
    while abs(fprime(x)) > 1e-8 and epoch < n_epochs:
        x = x - lr * fprime(x)
        epoch += 1
    return x, epoch


np.seterr(all="ignore")
rng = np.random.default_rng(3)
for lr in [0.01, 0.3, 4]:
    for _ in range(12):
        x, n = gradient_descent(rng.uniform(-5, 20), lr, 3000)
        print(f"lr={lr}: ended at {x:.4f} after {n} epochs")
