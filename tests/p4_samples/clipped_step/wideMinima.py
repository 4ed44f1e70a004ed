import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


# GD, but every iterate is clipped to the start interval: with α = 4 the iterates bounce
# between the ends of [-5, 20] instead of blowing up, which is no longer GD.
np.random.seed(11)
for lr in [0.01, 0.3, 4]:
    finals = []
    for trial in range(20):
        x = np.random.uniform(-5, 20)
        for it in range(1000):
            x = np.clip(x - lr * fprime(x), -5, 20)
        finals.append(x)
    plt.plot(finals, "o")
    plt.title(f"lr = {lr}")
    plt.show()
