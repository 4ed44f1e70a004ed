import numpy as np
import matplotlib.pyplot as plt


def loss(theta):
    return (10 * theta**2 + np.exp(3 * (theta - 3)) * ((theta - 10) ** 2 / 2 + 50)) / (1 + np.exp(3 * (theta - 3)))


def grad(theta):
    s = 1 / (1 + np.exp(-3 * (theta - 3)))
    return (1 - s) * 20 * theta + s * (theta - 10) + 3 * s * (1 - s) * (((theta - 10) ** 2 / 2 + 50) - 10 * theta**2)


def gradient_descent(theta0, lr, n_iter=1000):
    theta = theta0
    for _ in range(n_iter):
        theta = theta - lr * grad(theta)
    return theta


rng = np.random.default_rng(42)
for lr in (0.01, 0.3, 4):
    finals = [gradient_descent(rng.uniform(-5, 20), lr) for _ in range(25)]
    finals = np.array(finals)
    print(lr, np.sum(np.abs(finals) < 0.5), np.sum(np.abs(finals - 10) < 0.5))
