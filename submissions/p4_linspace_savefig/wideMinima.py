import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


np.seterr(all="ignore")
for lr in [0.01, 0.3, 4]:
    theta = np.linspace(-5, 20, 100)
    for _ in range(1000):
        theta = theta - lr * fprime(theta)
    plt.figure()
    plt.plot(np.linspace(-5, 20, 100), theta, ".")
    plt.savefig(f"final points (lr {lr}).out", format="png")
    plt.close()
