import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


def gradient_descent(start, lr, n_epochs):
    x = start
    for _ in range(n_epochs):
        x = x - lr * fprime(x)
    return x, f(x)


np.random.seed(2024)
for lr in [0.01, 0.3, 4]:
    finals = []
    for trial in range(20):
        x0 = np.random.uniform(-5, 20)
        x, fx = gradient_descent(x0, lr, 1000)
        finals.append(x)
    finals = np.array(finals)
    sharp = np.sum(np.abs(finals) < 0.5)
    wide = np.sum(np.abs(finals - 10) < 0.5)
    print(f"lr={lr}: sharp={sharp}, wide={wide}, other={len(finals) - sharp - wide}")
    plt.plot(np.clip(finals, -5, 20), "o")
    plt.title(f"final iterates (clipped to [-5, 20]), lr={lr}")
    plt.show()
