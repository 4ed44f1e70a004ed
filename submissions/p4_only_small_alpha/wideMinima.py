import numpy as np
import matplotlib.pyplot as plt


def f(x):
    return (10 * x**2 + np.exp(3 * (x - 3)) * ((x - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (x - 3)))


def fprime(x):
    s = 1 / (1 + np.exp(-3 * (x - 3)))
    return (1 - s) * 20 * x + s * (x - 10) + 3 * s * (1 - s) * (((x - 10) ** 2 / 2 + 50) - 10 * x**2)


alpha = 0.01  # 0.01 / 0.3 / 4
np.random.seed(5)
finals = []
for i in range(20):
    theta = np.random.uniform(-5, 20)
    for k in range(1000):
        theta = theta - alpha * fprime(theta)
    finals.append(theta)
plt.hist(finals, bins=30)
plt.show()
