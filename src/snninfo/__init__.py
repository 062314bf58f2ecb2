"""snninfo: reproducible spiking-network and information-theory pipeline.

Reproduces and extends Capozzi & Goncalves, "Information Theory for Deep Spiking
Neural Networks", on top of BindsNET's ``DiehlAndCook2015`` model.
"""

__version__ = "0.1.0"

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "cifar10": [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ],
}
